// BatchNormalization (inference): y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c]
// then $ACT on v. params: [0] n, [1] C, [2] inner (elements per channel), [3] eps
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read> Sc: array<T>;
@group(0) @binding(3) var<storage, read> Bi: array<T>;
@group(0) @binding(4) var<storage, read> Mean: array<T>;
@group(0) @binding(5) var<storage, read> Var: array<T>;
@group(0) @binding(6) var<storage, read_write> Y: array<T>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    let c = (i / pu(2u)) % pu(1u);
    let x = f32(X[i]);
    let v = (x - f32(Mean[c])) * f32(Sc[c]) * inverseSqrt(f32(Var[c]) + pf(3u)) + f32(Bi[c]);
    Y[i] = T($ACT);
}
