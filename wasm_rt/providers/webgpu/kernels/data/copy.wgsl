// Strided copy: for every coordinate of a rank-$RANK view,
//   Y[ybase + sum(coord * ystride)] = X[xbase + sum(coord * xstride)].
// Transpose, Slice, Concat, Split, Expand and Tile are all this kernel.
// params: [0] n, [1] xbase, [2] ybase, [4..12) dims, [12..20) x strides (i32),
//         [20..28) y strides (i32)
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read_write> Y: array<T>;

const RANK: u32 = ${RANK}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    var rem = i;
    var ix = pi(1u);
    var iy = pi(2u);
    for (var d = 0u; d < RANK; d++) {
        let k = RANK - 1u - d;
        let dim = pu(4u + k);
        let coord = i32(rem % dim);
        rem = rem / dim;
        ix += coord * pi(12u + k);
        iy += coord * pi(20u + k);
    }
    Y[iy] = X[ix];
}
