from pathlib import Path

INPAGE = (Path(__file__).parent / "inpage.py").read_text()


def test_device(gpu):
    gpu(INPAGE + "\ndumps(1)")
    r = gpu("""
rng = np.random.default_rng(0)
x = rng.standard_normal((3, 5)).astype(np.float32)
dumps(await check("Relu", {"x": x}))
""")
    assert r == {"errors": [], "where": "WebGpuExecutionProvider"}


def test_adapter_is_reported(gpu):
    info = gpu("""
from wasm_rt.providers.webgpu import _js
d = _js.current_device()
dumps({"desc": d.describe(), "f16": d.f16, "max_binding": d.max_binding})
""")
    print(info)
    assert info["max_binding"] >= 128 << 20


def test_strict_mode_fails_instead_of_falling_back(gpu):
    gpu(INPAGE + "\ndumps(1)")
    r = gpu("""
from wasm_rt.errors import Fail
g = graph_of("Relu", {"x": np.zeros(3, np.float64)}, {}, 1, ())
try:
    await run_both(g, {"x": np.zeros(3, np.float64)}, 13, {"strict": True})
    out = "no error"
except Fail as e:
    out = str(e)
dumps(out)
""")
    assert "strict mode forbids" in r and "Relu" in r, r
