// matmul_reg with vec4 loads and stores: A rows and B rows are read four
// elements at a time, Y written as vec4. The host picks it when K, N, the row
// strides and the batch offsets are multiples of 4 and A, B are row-major.
// Same params as matmul.wgsl; workgroups of 8x8 invocations cover 32x32 outputs.
@group(0) @binding(1) var<storage, read> A: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> C: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<vec4<T>>;

const HAS_C: bool = $HAS_C;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
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
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    if (row0 >= M || col0 >= N) {
        return;
    }
    let sam4 = pu(3u) / 4u;
    let sbk4 = pu(5u) / 4u;
    var ra: array<u32, 4>;
    for (var i = 0u; i < 4u; i++) {
        ra[i] = a_off / 4u + min(row0 + i, M - 1u) * sam4;
    }
    let cb = (b_off + col0) / 4u;
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var k4 = 0u; k4 < K / 4u; k4++) {
        let a0 = vec4<f32>(A[ra[0] + k4]);
        let a1 = vec4<f32>(A[ra[1] + k4]);
        let a2 = vec4<f32>(A[ra[2] + k4]);
        let a3 = vec4<f32>(A[ra[3] + k4]);
        let kb = cb + k4 * 4u * sbk4;
        for (var kk = 0u; kk < 4u; kk++) {
            let b = vec4<f32>(B[kb + kk * sbk4]);
            acc[0] = fma(vec4<f32>(a0[kk]), b, acc[0]);
            acc[1] = fma(vec4<f32>(a1[kk]), b, acc[1]);
            acc[2] = fma(vec4<f32>(a2[kk]), b, acc[2]);
            acc[3] = fma(vec4<f32>(a3[kk]), b, acc[3]);
        }
    }
    let alpha = pf(9u);
    let beta = pf(10u);
    let y_off = wid.z * M * N;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + i;
        if (r >= M) {
            break;
        }
        var out: vec4<f32>;
        for (var j = 0u; j < 4u; j++) {
            var v = alpha * acc[i][j];
            if (HAS_C) {
                v += beta * f32(C[c_off + r * pu(7u) + (col0 + j) * pu(8u)]);
            }
            out[j] = $ACT;
        }
        Y[(y_off + r * N + col0) / 4u] = vec4<T>(out);
    }
}
