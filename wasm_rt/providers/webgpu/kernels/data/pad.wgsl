// Pad, one invocation per output: $MODE 0 constant, 1 reflect, 2 edge, 3 wrap.
// params: [0] n, [1] value (f32), [4..12) output dims, [12..20) input dims,
//   [20..28) begin pads (i32), [28..36) input strides
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read_write> Y: array<T>;

const RANK: u32 = ${RANK}u;
const MODE: u32 = ${MODE}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    var rem = i;
    var off = 0u;
    var inside = true;
    for (var d = 0u; d < RANK; d++) {
        let k = RANK - 1u - d;
        let dim = pu(4u + k);
        let n = i32(pu(12u + k));
        var c = i32(rem % dim) - pi(20u + k);
        rem = rem / dim;
        if (c < 0 || c >= n) {
            if (MODE == 0u) {
                inside = false;
            } else if (MODE == 1u) {
                let period = max(2 * n - 2, 1);
                c = c % period;
                if (c < 0) { c += period; }
                if (c >= n) { c = period - c; }
            } else if (MODE == 2u) {
                c = clamp(c, 0, n - 1);
            } else {
                c = c % n;
                if (c < 0) { c += n; }
            }
        }
        off += u32(max(c, 0)) * pu(28u + k);
    }
    if (inside) {
        Y[i] = X[off];
    } else {
        Y[i] = T(pf(1u));
    }
}
