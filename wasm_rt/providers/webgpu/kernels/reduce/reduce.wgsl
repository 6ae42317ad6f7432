// Reduce* and ArgMax/ArgMin over any set of axes, one invocation per output.
// The input is seen as rank-$RANK dims; kept dims index the output, reduced
// dims are walked by an inner counter. $OP picks the reduction:
// 0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 l1, 6 l2, 7 log-sum, 8 log-sum-exp,
// 9 sum-square, 10 argmax, 11 argmin ($SELECT_LAST: ties take the last).
// params: [0] outputs, [1] reduced count, [4..12) kept dims (outer first, 1 when
// reduced), [12..20) input strides of kept coords, [20..28) reduced dims
// (1 when kept), [28..36) input strides of reduced coords, [36..44) dims (for argmax)
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read_write> Y: array<$TY>;

const RANK: u32 = ${RANK}u;
const OP: u32 = ${OP}u;
const SELECT_LAST: bool = $SELECT_LAST;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    var rem = i;
    var base = 0u;
    for (var d = 0u; d < RANK; d++) {
        let k = RANK - 1u - d;
        let dim = pu(4u + k);
        base += (rem % dim) * pu(12u + k);
        rem = rem / dim;
    }
    let R = pu(1u);
    var acc = 0.0;
    if (OP == 2u || OP == 10u) {
        acc = -3.402823e38;
    } else if (OP == 3u || OP == 11u) {
        acc = 3.402823e38;
    } else if (OP == 4u) {
        acc = 1.0;
    }
    var m = -3.402823e38;
    if (OP == 8u) {
        for (var r = 0u; r < R; r++) {
            var rr = r;
            var off = base;
            for (var d = 0u; d < RANK; d++) {
                let k = RANK - 1u - d;
                off += (rr % pu(20u + k)) * pu(28u + k);
                rr = rr / pu(20u + k);
            }
            m = max(m, f32(X[off]));
        }
    }
    var best = 0u;
    for (var r = 0u; r < R; r++) {
        var rr = r;
        var off = base;
        for (var d = 0u; d < RANK; d++) {
            let k = RANK - 1u - d;
            off += (rr % pu(20u + k)) * pu(28u + k);
            rr = rr / pu(20u + k);
        }
        let x = f32(X[off]);
        switch OP {
            case 0u, 1u, 7u: { acc += x; }
            case 2u: { acc = max(acc, x); }
            case 3u: { acc = min(acc, x); }
            case 4u: { acc *= x; }
            case 5u: { acc += abs(x); }
            case 6u, 9u: { acc += x * x; }
            case 8u: { acc += exp(x - m); }
            case 10u: {
                if (x > acc || (SELECT_LAST && x == acc)) { acc = x; best = r; }
            }
            case 11u: {
                if (x < acc || (SELECT_LAST && x == acc)) { acc = x; best = r; }
            }
            default: {}
        }
    }
    if (OP == 1u) {
        acc = acc / f32(R);
    } else if (OP == 6u) {
        acc = sqrt(acc);
    } else if (OP == 7u) {
        acc = log(acc);
    } else if (OP == 8u) {
        acc = log(acc) + m;
    }
    if (OP >= 10u) {
        Y[i] = $TY(best);
    } else {
        Y[i] = $TY(acc);
    }
}
