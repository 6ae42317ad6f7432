// y[i] = value (ConstantOfShape, zero-fills). params: [0] n, [1] value bits
@group(0) @binding(1) var<storage, read_write> Y: array<$TY>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    Y[i] = $VALUE;
}
