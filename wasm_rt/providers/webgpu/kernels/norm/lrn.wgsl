// LRN across channels: y = x / (bias + alpha / size * sum(x[c'] ^ 2)) ^ beta,
// c' in [c - floor((size-1)/2), c + ceil((size-1)/2)].
// params: [0] n, [1] C, [2] inner, [3] size, [4] alpha, [5] beta, [6] bias
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read_write> Y: array<T>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    let C = i32(pu(1u));
    let inner = pu(2u);
    let size = i32(pu(3u));
    let c = i32((i / inner) % pu(1u));
    let lo = max(0, c - (size - 1) / 2);
    let hi = min(C - 1, c + size / 2);
    let base = i - u32(c) * inner;
    var s = 0.0;
    for (var k = lo; k <= hi; k++) {
        let x = f32(X[base + u32(k) * inner]);
        s += x * x;
    }
    let d = pow(pf(6u) + pf(4u) / f32(size) * s, pf(5u));
    Y[i] = T(f32(X[i]) / d);
}
