// Y = alpha * A @ B (+ beta * C) for few rows (M small): one workgroup of 64
// per output element splits the K reduction. Same params as matmul.wgsl;
// grid (N, M, batch).
@group(0) @binding(1) var<storage, read> A: array<T>;
@group(0) @binding(2) var<storage, read> B: array<T>;
@group(0) @binding(3) var<storage, read> C: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<T>;

const HAS_C: bool = $HAS_C;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let M = pu(0u);
    let N = pu(1u);
    let K = pu(2u);
    var rem = wid.z;
    var a_off = 0u;
    var b_off = 0u;
    var c_off = 0u;
    for (var d = 0u; d < pu(11u); d++) {
        let k = pu(11u) - 1u - d;
        let coord = rem % pu(12u + k);
        rem = rem / pu(12u + k);
        a_off += coord * pu(16u + k);
        b_off += coord * pu(20u + k);
        c_off += coord * pu(24u + k);
    }
    let n = wid.x;
    let m = wid.y;
    let ab = a_off + m * pu(3u);
    let bb = b_off + n * pu(6u);
    var s = 0.0;
    for (var k = lid; k < K; k += 64u) {
        s = fma(f32(A[ab + k * pu(4u)]), f32(B[bb + k * pu(5u)]), s);
    }
    red[lid] = s;
    workgroupBarrier();
    for (var w = 32u; w > 0u; w >>= 1u) {
        if (lid < w) {
            red[lid] += red[lid + w];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        var v = pf(9u) * red[0];
        if (HAS_C) {
            v += pf(10u) * f32(C[c_off + m * pu(7u) + n * pu(8u)]);
        }
        Y[wid.z * M * N + m * N + n] = T($ACT);
    }
}
