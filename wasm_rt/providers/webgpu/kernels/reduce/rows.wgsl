// Row-wise kernels, one workgroup of 64 per row: row r holds L elements at
// (r / inner) * L * inner + r % inner + j * inner.
// $OP: 0 softmax, 1 log-softmax, 2 layer/instance norm (scale, bias per
// element of the row, or per row when [4] is 1), 3 sum of row
// params: [0] rows, [1] L, [2] inner, [3] epsilon (f32), [4] affine per row,
//         [5] rows per affine period
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read> S: array<T>;
@group(0) @binding(3) var<storage, read> Bv: array<T>;
@group(0) @binding(4) var<storage, read_write> Y: array<T>;

const OP: u32 = ${OP}u;
var<workgroup> red: array<f32, 64>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_max(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] = max(red[lid], red[lid + s]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let r = wid.y * nwg.x + wid.x;
    if (r >= pu(0u)) {
        return;  // uniform per workgroup: barriers stay in uniform control flow
    }
    let L = pu(1u);
    let inner = pu(2u);
    let base = (r / inner) * L * inner + r % inner;
    if (OP == 0u || OP == 1u) {
        var m = -3.402823e38;
        for (var j = lid; j < L; j += 64u) {
            m = max(m, f32(X[base + j * inner]));
        }
        m = reduce_max(lid, m);
        var s = 0.0;
        for (var j = lid; j < L; j += 64u) {
            s += exp(f32(X[base + j * inner]) - m);
        }
        s = reduce_sum(lid, s);
        for (var j = lid; j < L; j += 64u) {
            let e = f32(X[base + j * inner]) - m;
            if (OP == 0u) {
                Y[base + j * inner] = T(exp(e) / s);
            } else {
                Y[base + j * inner] = T(e - log(s));
            }
        }
    } else if (OP == 2u) {
        var s = 0.0;
        for (var j = lid; j < L; j += 64u) {
            s += f32(X[base + j * inner]);
        }
        let mean = reduce_sum(lid, s) / f32(L);
        var q = 0.0;
        for (var j = lid; j < L; j += 64u) {
            let d = f32(X[base + j * inner]) - mean;
            q += d * d;
        }
        let rstd = inverseSqrt(reduce_sum(lid, q) / f32(L) + pf(3u));
        let ch = r % pu(5u);
        for (var j = lid; j < L; j += 64u) {
            var k = j;
            if (pu(4u) != 0u) {
                k = ch;
            }
            let x = f32(X[base + j * inner]);
            Y[base + j * inner] = T((x - mean) * rstd * f32(S[k]) + f32(Bv[k]));
        }
    } else {
        var s = 0.0;
        for (var j = lid; j < L; j += 64u) {
            s += f32(X[base + j * inner]);
        }
        s = reduce_sum(lid, s);
        if (lid == 0u) {
            Y[r] = T(s);
        }
    }
}
