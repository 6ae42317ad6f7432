// ConvTranspose (2-D; 1-D with H = 1), one invocation per output element,
// gathering the inputs whose strided window covers it.
// W is (C, Mg, KH, KW). params: [0] C, [1] H, [2] W, [3] M, [4] OH, [5] OW,
// [6] KH, [7] KW, [8] SH, [9] SW, [10] PH, [11] PW, [12] DH, [13] DW, [14] G,
// [15] Cg, [16] Mg, [17] total
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
    let H = i32(pu(1u));
    let W = i32(pu(2u));
    let M = pu(3u);
    let OH = pu(4u);
    let OW = pu(5u);
    let KH = pu(6u);
    let KW = pu(7u);
    let SH = i32(pu(8u));
    let SW = i32(pu(9u));
    let Cg = pu(15u);
    let Mg = pu(16u);
    let ow = i32(i % OW);
    let oh = i32((i / OW) % OH);
    let oc = (i / (OW * OH)) % M;
    let n = i / (OW * OH * M);
    let g = oc / Mg;
    let m = oc % Mg;
    var acc = 0.0;
    if (HAS_BIAS) {
        acc = f32(Bias[oc]);
    }
    for (var kh = 0u; kh < KH; kh++) {
        let th = oh + pi(10u) - i32(kh * pu(12u));
        if (th < 0 || th % SH != 0 || th / SH >= H) {
            continue;
        }
        let ih = th / SH;
        for (var kw = 0u; kw < KW; kw++) {
            let tw = ow + pi(11u) - i32(kw * pu(13u));
            if (tw < 0 || tw % SW != 0 || tw / SW >= W) {
                continue;
            }
            let iw = tw / SW;
            for (var c = 0u; c < Cg; c++) {
                let ic = g * Cg + c;
                let xv = f32(X[((n * C + ic) * u32(H) + u32(ih)) * u32(W) + u32(iw)]);
                let wv = f32(Wt[((ic * Mg + m) * KH + kh) * KW + kw]);
                acc = fma(xv, wv, acc);
            }
        }
    }
    Y[i] = T(acc);
}
