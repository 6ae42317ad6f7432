// y = $EXPR over up to three inputs a, b, c with numpy broadcasting.
// Each input is addressed by its own strides (0 on broadcast dimensions).
// params: [0] n, [1] p0, [2] p1, [4..4+R) output dims,
//         [12..) strides of a, [20..) of b, [28..) of c (R = $RANK <= 8)
@group(0) @binding(1) var<storage, read> A: array<$TA>;
@group(0) @binding(2) var<storage, read> B: array<$TB>;
@group(0) @binding(3) var<storage, read> C: array<$TC>;
@group(0) @binding(4) var<storage, read_write> Y: array<$TY>;

const RANK: u32 = ${RANK}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    var ic = 0u;
    for (var d = 0u; d < RANK; d++) {
        let k = RANK - 1u - d;
        let dim = pu(4u + k);
        let coord = rem % dim;
        rem = rem / dim;
        ia += coord * pu(12u + k);
        ib += coord * pu(20u + k);
        ic += coord * pu(28u + k);
    }
    let a = A[ia];
    let b = B[ib];
    let c = C[ic];
    let p0 = pf(1u);
    let p1 = pf(2u);
    Y[i] = $EXPR;
}
