// Batched Y = alpha * A @ B (+ beta * C) (then $ACT) without workgroup memory:
// each invocation keeps a 4x4 output block in registers and streams A and B
// from storage. Barrier-free, which suits CPU-emulated adapters (SwiftShader),
// where workgroupBarrier is costly. Same params as matmul.wgsl; workgroups of
// 8x8 invocations cover 32x32 outputs.
@group(0) @binding(1) var<storage, read> A: array<T>;
@group(0) @binding(2) var<storage, read> B: array<T>;
@group(0) @binding(3) var<storage, read> C: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<T>;

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
    let sam = pu(3u);
    let sak = pu(4u);
    let sbk = pu(5u);
    let sbn = pu(6u);
    // Clamp out-of-range rows/columns onto valid ones; their results are not stored.
    // Accumulators are separate variables with constant names: SwiftShader keeps
    // them in registers, while a dynamically indexed private array goes to memory.
    let ra0 = a_off + min(row0, M - 1u) * sam;
    let ra1 = a_off + min(row0 + 1u, M - 1u) * sam;
    let ra2 = a_off + min(row0 + 2u, M - 1u) * sam;
    let ra3 = a_off + min(row0 + 3u, M - 1u) * sam;
    let cb0 = b_off + min(col0, N - 1u) * sbn;
    let cb1 = b_off + min(col0 + 1u, N - 1u) * sbn;
    let cb2 = b_off + min(col0 + 2u, N - 1u) * sbn;
    let cb3 = b_off + min(col0 + 3u, N - 1u) * sbn;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = 0u; k < K; k++) {
        let kb = k * sbk;
        let ka = k * sak;
        let bv = vec4<f32>(f32(B[cb0 + kb]), f32(B[cb1 + kb]), f32(B[cb2 + kb]), f32(B[cb3 + kb]));
        acc0 = fma(vec4<f32>(f32(A[ra0 + ka])), bv, acc0);
        acc1 = fma(vec4<f32>(f32(A[ra1 + ka])), bv, acc1);
        acc2 = fma(vec4<f32>(f32(A[ra2 + ka])), bv, acc2);
        acc3 = fma(vec4<f32>(f32(A[ra3 + ka])), bv, acc3);
    }
    let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    let alpha = pf(9u);
    let beta = pf(10u);
    let y_off = wid.z * M * N;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + i;
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + j;
            if (r < M && c < N) {
                var v = alpha * acc[i][j];
                if (HAS_C) {
                    v += beta * f32(C[c_off + r * pu(7u) + c * pu(8u)]);
                }
                Y[y_off + r * N + c] = T($ACT);
            }
        }
    }
}
