// Batched Y = alpha * A @ B (+ beta * C) (then $ACT), tiled through workgroup
// memory: a 32x32 output tile per workgroup of 8x8 threads, 4x4 per thread.
// A(m, k) = A[a_off + m * sam + k * sak], likewise B(k, n); transposes are strides.
// The batch index is wid.z, decomposed over up to 4 batch dims.
// params: [0] M, [1] N, [2] K, [3] sam, [4] sak, [5] sbk, [6] sbn, [7] scm,
//   [8] scn, [9] alpha, [10] beta, [11] batch rank, [12..16) batch dims,
//   [16..20) A batch strides, [20..24) B batch strides, [24..28) C batch strides
@group(0) @binding(1) var<storage, read> A: array<T>;
@group(0) @binding(2) var<storage, read> B: array<T>;
@group(0) @binding(3) var<storage, read> C: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<T>;

const TM: u32 = 32u;
const TN: u32 = 32u;
const TK: u32 = 16u;
const HAS_C: bool = $HAS_C;

var<workgroup> As: array<array<T, TK>, TM>;
var<workgroup> Bs: array<array<T, TN>, TK>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
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
    let y_off = wid.z * M * N;
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    let sam = pu(3u);
    let sak = pu(4u);
    let sbk = pu(5u);
    let sbn = pu(6u);
    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < K; k0 += TK) {
        for (var e = li; e < TM * TK; e += 64u) {
            let r = e / TK;
            let kk = e % TK;
            var v = T(0);
            if (row0 + r < M && k0 + kk < K) {
                v = A[a_off + (row0 + r) * sam + (k0 + kk) * sak];
            }
            As[r][kk] = v;
        }
        for (var e = li; e < TK * TN; e += 64u) {
            let kk = e / TN;
            let c = e % TN;
            var v = T(0);
            if (col0 + c < N && k0 + kk < K) {
                v = B[b_off + (k0 + kk) * sbk + (col0 + c) * sbn];
            }
            Bs[kk][c] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var bv: array<f32, 4>;
            for (var j = 0u; j < 4u; j++) {
                bv[j] = f32(Bs[kk][lid.x * 4u + j]);
            }
            for (var i = 0u; i < 4u; i++) {
                let av = f32(As[lid.y * 4u + i][kk]);
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(av, bv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }
    let alpha = pf(9u);
    let beta = pf(10u);
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y * 4u + i;
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + lid.x * 4u + j;
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
