// Conv (2-D; 1-D with H = 1) as implicit GEMM without workgroup memory: each
// invocation computes 4 output channels x 4 output pixels in registers
// (barrier-free, for CPU-emulated adapters). Params as conv_gemm.wgsl; grid
// (ceil(P/32), ceil(Mg/32), N*G) of 8x8 invocations.
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read> Wt: array<T>;
@group(0) @binding(3) var<storage, read> Bias: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<T>;

const HAS_BIAS: bool = $HAS_BIAS;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
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
    let m0 = gid.y * 4u;
    let p0 = gid.x * 4u;
    if (m0 >= Mg || p0 >= P) {
        return;
    }
    let x_base = (n * C + g * Cg) * H * W;
    var wrow: array<u32, 4>;
    var oh: array<i32, 4>;
    var ow: array<i32, 4>;
    for (var i = 0u; i < 4u; i++) {
        wrow[i] = (g * Mg + min(m0 + i, Mg - 1u)) * K;
        let p = min(p0 + i, P - 1u);
        oh[i] = i32((p / OW) * pu(8u)) - pi(10u);
        ow[i] = i32((p % OW) * pu(9u)) - pi(11u);
    }
    var acc: array<vec4<f32>, 4>;
    for (var c = 0u; c < Cg; c++) {
        let xc = x_base + c * H * W;
        for (var kh = 0u; kh < KH; kh++) {
            let dh = i32(kh * pu(12u));
            for (var kw = 0u; kw < KW; kw++) {
                let dw = i32(kw * pu(13u));
                var xv = vec4<f32>(0.0);
                for (var j = 0u; j < 4u; j++) {
                    let ih = oh[j] + dh;
                    let iw = ow[j] + dw;
                    if (ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W)) {
                        xv[j] = f32(X[xc + u32(ih) * W + u32(iw)]);
                    }
                }
                let k = (c * KH + kh) * KW + kw;
                for (var i = 0u; i < 4u; i++) {
                    acc[i] = fma(vec4<f32>(f32(Wt[wrow[i] + k])), xv, acc[i]);
                }
            }
        }
    }
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + i;
        if (m >= Mg) {
            continue;
        }
        let oc = g * Mg + m;
        var bias = 0.0;
        if (HAS_BIAS) {
            bias = f32(Bias[oc]);
        }
        for (var j = 0u; j < 4u; j++) {
            let p = p0 + j;
            if (p < P) {
                let v = acc[i][j] + bias;
                Y[(n * M + oc) * P + p] = T($ACT);
            }
        }
    }
}
