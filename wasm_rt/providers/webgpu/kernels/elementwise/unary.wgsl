// y[i] = $EXPR, with `a` the input element; float attributes in p0, p1.
// params: [0] n, [1] p0, [2] p1
@group(0) @binding(1) var<storage, read> A: array<$TA>;
@group(0) @binding(2) var<storage, read_write> Y: array<$TY>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    let a = A[i];
    let p0 = pf(1u);
    let p1 = pf(2u);
    Y[i] = $EXPR;
}
