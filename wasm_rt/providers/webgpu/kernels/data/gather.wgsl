// Gather along an axis: the input is seen as (outer, D, inner), the output as
// (outer, nidx, inner); negative indices count from the end.
// $ELEMENTS = true: GatherElements on (outer, D, inner) with an index tensor
// shaped (outer, nidx, inner).
// params: [0] n, [1] D, [2] inner, [3] nidx
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> Y: array<T>;

const ELEMENTS: bool = $ELEMENTS;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    let D = pu(1u);
    let inner = pu(2u);
    let nidx = pu(3u);
    let in_ = i % inner;
    let j = (i / inner) % nidx;
    let o = i / (inner * nidx);
    var idx = 0i;
    if (ELEMENTS) {
        idx = I[i];
    } else {
        idx = I[j];
    }
    if (idx < 0) {
        idx += i32(D);
    }
    Y[i] = X[(o * D + u32(idx)) * inner + in_];
}
