// Shared by every wasm_rt kernel; shaders.py prepends it to each kernel file.
// Rendered once per pipeline: $T is the element type, $WG the workgroup size.
// Shapes, sizes and float attributes travel in the uniform P (64 x u32), so
// one pipeline serves every shape.

alias T = $T;
const WG: u32 = ${WG}u;

struct Params {
    v: array<vec4<u32>, 16>,
}
@group(0) @binding(0) var<uniform> P: Params;

fn pu(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}
fn pi(i: u32) -> i32 {
    return bitcast<i32>(pu(i));
}
fn pf(i: u32) -> f32 {
    return bitcast<f32>(pu(i));
}

// The linear invocation index of a 1-D launch that the host may have split
// over x and y (more than 65,535 workgroups).
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
fn erf_f32(x: f32) -> f32 {
    let s = sign(x);
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t
        - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return s * y;
}
