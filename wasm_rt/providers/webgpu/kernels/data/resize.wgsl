// Resize of the last two dims (N and C untouched), one invocation per output.
// Source coordinate per axis: x_in = x_out * scale + offset (precomputed on
// the host from the coordinate transformation mode).
// $MODE 0 nearest (rounding $NEAREST: 0 round_prefer_floor, 1 round_prefer_ceil,
// 2 floor, 3 ceil), 1 linear.
// params: [0] n, [1] H, [2] W, [3] OH, [4] OW, [5] scale h, [6] offset h,
//   [7] scale w, [8] offset w
@group(0) @binding(1) var<storage, read> X: array<T>;
@group(0) @binding(2) var<storage, read_write> Y: array<T>;

const MODE: u32 = ${MODE}u;
const NEAREST: u32 = ${NEAREST}u;

fn near(x: f32, n: i32) -> i32 {
    var r: f32;
    switch NEAREST {
        case 0u: { r = select(round(x), floor(x), fract(x) == 0.5); }
        case 1u: { r = select(round(x), ceil(x), fract(x) == 0.5); }
        case 2u: { r = floor(x); }
        default: { r = ceil(x); }
    }
    return clamp(i32(r), 0, n - 1);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) {
        return;
    }
    let H = i32(pu(1u));
    let W = i32(pu(2u));
    let OW = pu(4u);
    let OH = pu(3u);
    let ox = i % OW;
    let oy = (i / OW) % OH;
    let base = (i / (OW * OH)) * u32(H * W);
    let sy = f32(oy) * pf(5u) + pf(6u);
    let sx = f32(ox) * pf(7u) + pf(8u);
    if (MODE == 0u) {
        Y[i] = X[base + u32(near(sy, H) * W + near(sx, W))];
    } else {
        let cy = clamp(sy, 0.0, f32(H - 1));
        let cx = clamp(sx, 0.0, f32(W - 1));
        let y0 = i32(floor(cy));
        let x0 = i32(floor(cx));
        let y1 = min(y0 + 1, H - 1);
        let x1 = min(x0 + 1, W - 1);
        let fy = cy - f32(y0);
        let fx = cx - f32(x0);
        let a = f32(X[base + u32(y0 * W + x0)]);
        let b = f32(X[base + u32(y0 * W + x1)]);
        let c = f32(X[base + u32(y1 * W + x0)]);
        let d = f32(X[base + u32(y1 * W + x1)]);
        Y[i] = T(mix(mix(a, b, fx), mix(c, d, fx), fy));
    }
}
