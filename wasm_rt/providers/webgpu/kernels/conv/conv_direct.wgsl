// Conv (2-D; 1-D with H = 1), one invocation per output element: used for
// depthwise and other convolutions with few output channels per group.
// params as conv_gemm, plus [17] total outputs.
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read> Wt: array<T>;
@group(0) @binding(3) var<storage, read> Bias: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<T>;

const HAS_BIAS: bool = $HAS_BIAS;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(17u)) {
        return;
    }
    let C = pu(0u);
    let H = pu(1u);
    let W = pu(2u);
    let M = pu(3u);
    let OH = pu(4u);
    let OW = pu(5u);
    let KH = pu(6u);
    let KW = pu(7u);
    let Cg = pu(15u);
    let Mg = pu(16u);
    let ow = i % OW;
    let oh = (i / OW) % OH;
    let oc = (i / (OW * OH)) % M;
    let n = i / (OW * OH * M);
    let g = oc / Mg;
    var acc = 0.0;
    if (HAS_BIAS) {
        acc = f32(Bias[oc]);
    }
    for (var c = 0u; c < Cg; c++) {
        let x_base = (n * C + g * Cg + c) * H * W;
        let w_base = (oc * Cg + c) * KH * KW;
        for (var kh = 0u; kh < KH; kh++) {
            let ih = i32(oh * pu(8u) + kh * pu(12u)) - pi(10u);
            if (ih < 0 || ih >= i32(H)) {
                continue;
            }
            for (var kw = 0u; kw < KW; kw++) {
                let iw = i32(ow * pu(9u) + kw * pu(13u)) - pi(11u);
                if (iw < 0 || iw >= i32(W)) {
                    continue;
                }
                acc = fma(f32(X[x_base + u32(ih) * W + u32(iw)]), f32(Wt[w_base + kh * KW + kw]), acc);
            }
        }
    }
    let v = acc;
    Y[i] = T($ACT);
}
