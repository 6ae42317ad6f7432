// Conv (2-D; 1-D runs with H = 1) as an implicit GEMM, tiled like matmul:
// rows are the Mg output channels of a group, columns the OH*OW output pixels,
// the reduction runs over Cg*KH*KW (im2col is never materialized).
// wid.z = n * G + g. Bias added, then $ACT on v.
// params: [0] C, [1] H, [2] W, [3] M, [4] OH, [5] OW, [6] KH, [7] KW,
//   [8] SH, [9] SW, [10] PH, [11] PW, [12] DH, [13] DW, [14] G, [15] Cg, [16] Mg
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read> Wt: array<T>;
@group(0) @binding(3) var<storage, read> Bias: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<T>;

const TM: u32 = 32u;
const TN: u32 = 32u;
const TK: u32 = 16u;
const HAS_BIAS: bool = $HAS_BIAS;

var<workgroup> As: array<array<T, TK>, TM>;
var<workgroup> Bs: array<array<T, TN>, TK>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let C = pu(0u);
    let H = pu(1u);
    let W = pu(2u);
    let M = pu(3u);
    let OH = pu(4u);
    let OW = pu(5u);
    let KH = pu(6u);
    let KW = pu(7u);
    let G = pu(14u);
    let Cg = pu(15u);
    let Mg = pu(16u);
    let n = wid.z / G;
    let g = wid.z % G;
    let P = OH * OW;
    let KK = KH * KW;
    let K = Cg * KK;
    let x_base = (n * C + g * Cg) * H * W;
    let w_base = g * Mg * K;
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < K; k0 += TK) {
        for (var e = li; e < TM * TK; e += 64u) {
            let r = e / TK;
            let kk = e % TK;
            var v = T(0);
            if (row0 + r < Mg && k0 + kk < K) {
                v = Wt[w_base + (row0 + r) * K + k0 + kk];
            }
            As[r][kk] = v;
        }
        for (var e = li; e < TK * TN; e += 64u) {
            let kk = e / TN;
            let c = e % TN;
            var v = T(0);
            let k = k0 + kk;
            let p = col0 + c;
            if (p < P && k < K) {
                let ci = k / KK;
                let kr = k % KK;
                let ih = i32((p / OW) * pu(8u) + (kr / KW) * pu(12u)) - pi(10u);
                let iw = i32((p % OW) * pu(9u) + (kr % KW) * pu(13u)) - pi(11u);
                if (ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W)) {
                    v = X[x_base + ci * H * W + u32(ih) * W + u32(iw)];
                }
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
    for (var i = 0u; i < 4u; i++) {
        let m = row0 + lid.y * 4u + i;
        if (m >= Mg) {
            continue;
        }
        let oc = g * Mg + m;
        var bias = 0.0;
        if (HAS_BIAS) {
            bias = f32(Bias[oc]);
        }
        for (var j = 0u; j < 4u; j++) {
            let p = col0 + lid.x * 4u + j;
            if (p < P) {
                let v = acc[i][j] + bias;
                Y[(n * M + oc) * P + p] = T($ACT);
            }
        }
    }
}
