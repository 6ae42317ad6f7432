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
