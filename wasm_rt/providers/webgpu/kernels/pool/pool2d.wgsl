// MaxPool / AveragePool (2-D; 1-D with H = 1), one invocation per output.
// $MODE is 0 for max, 1 for average.
// params: [0] total, [1] H, [2] W, [3] OH, [4] OW, [5] KH, [6] KW, [7] SH, [8] SW,
//   [9] PH, [10] PW, [11] DH, [12] DW, [13] count_include_pad, [14] H + pad end,
//   [15] W + pad end
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read_write> Y: array<T>;

const MODE: u32 = ${MODE}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    let H = i32(pu(1u));
    let W = i32(pu(2u));
    let OH = pu(3u);
    let OW = pu(4u);
    let ow = i % OW;
    let oh = (i / OW) % OH;
    let nc = i / (OW * OH);
    let base = nc * u32(H * W);
    let h0 = i32(oh * pu(7u)) - pi(9u);
    let w0 = i32(ow * pu(8u)) - pi(10u);
    var best = -3.402823e38;
    var sum = 0.0;
    var count = 0.0;
    var padded = 0.0;
    for (var kh = 0u; kh < pu(5u); kh++) {
        let ih = h0 + i32(kh * pu(11u));
        for (var kw = 0u; kw < pu(6u); kw++) {
            let iw = w0 + i32(kw * pu(12u));
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                let v = f32(X[base + u32(ih * W + iw)]);
                best = max(best, v);
                sum += v;
                count += 1.0;
            }
            if (ih < pi(14u) && iw < pi(15u)) {
                padded += 1.0;
            }
        }
    }
    if (MODE == 0u) {
        Y[i] = T(best);
    } else if (pu(13u) != 0u) {
        Y[i] = T(sum / padded);
    } else {
        Y[i] = T(sum / max(count, 1.0));
    }
}
