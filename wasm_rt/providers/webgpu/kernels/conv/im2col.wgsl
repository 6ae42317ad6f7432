// im2col for Conv (2-D; 1-D with H = 1): col[n, g, k, p] with k over
// (c, kh, kw) of group g and p over output pixels; zero where the window
// falls into the padding. Params as conv_gemm.wgsl, plus [17] total elements,
// [18] K4 >= K and [19] P4 >= P: the row and column counts of col (zero-padded).
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read_write> Col: array<T>;

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
    let OW = pu(5u);
    let KH = pu(6u);
    let KW = pu(7u);
    let G = pu(14u);
    let Cg = pu(15u);
    let P = pu(4u) * OW;
    let KK = KH * KW;
    let K = Cg * KK;
    let K4 = pu(18u);
    let P4 = pu(19u);
    let p = i % P4;
    let k = (i / P4) % K4;
    let ng = i / (P4 * K4);
    let n = ng / G;
    let g = ng % G;
    let c = g * Cg + k / KK;
    let kr = k % KK;
    let ih = i32((p / OW) * pu(8u) + (kr / KW) * pu(12u)) - pi(10u);
    let iw = i32((p % OW) * pu(9u) + (kr % KW) * pu(13u)) - pi(11u);
    let ok = p < P && k < K && ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W);
    let src = select(0u, ((n * C + c) * H + u32(ih)) * W + u32(iw), ok);
    Col[i] = select(T(0), X[src], ok);
}
