"""wasm_rt.compat: packages written for onnxruntime run unchanged on wasm_rt.

Each package runs twice in a fresh interpreter: once with the real onnxruntime (the
oracle) and once with the real one hidden from the import system and
``wasm_rt.compat.install()`` called first, so every ``import onnxruntime`` inside the
package goes through compat. The two runs must give the same results. The packages
(test-only, installed with ``pip install --no-deps``) ship their own ONNX models:
silero-vad==6.2.3 (voice activity detection, an LSTM with If subgraphs, driven through
torch tensors) and text2tashkeel==0.1.0 (Arabic diacritization, int8-quantized models).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

_PRELUDE = textwrap.dedent("""
    import json, sys
    if sys.argv[1] == "wasm_rt":
        class _HideRealOnnxruntime:
            def find_spec(self, name, path=None, target=None):
                if name == "onnxruntime" or name.startswith("onnxruntime."):
                    raise ImportError("the real onnxruntime is hidden in this test")
        import wasm_rt.compat
        wasm_rt.compat.install()
        sys.meta_path.insert(0, _HideRealOnnxruntime())
    import onnxruntime
    out = {"compat": bool(getattr(onnxruntime, "__wasm_rt_compat__", False))}
""")


def _run(body: str, runtime: str) -> dict:
    code = _PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-c", code, runtime], capture_output=True, text=True,
                          check=False,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _both(body: str) -> tuple[dict, dict]:
    ours, oracle = _run(body, "wasm_rt"), _run(body, "onnxruntime")
    assert ours.pop("compat") is True and oracle.pop("compat") is False
    return ours, oracle


def test_install_registers_onnxruntime_and_capi_modules():
    ours = _run("""
        from onnxruntime.capi import _pybind_state as C
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, NoSuchFile
        from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented, RuntimeException
        from onnxruntime.capi.onnxruntime_inference_collection import check_and_normalize_provider_args
        import importlib.util
        import wasm_rt
        out["same_classes"] = (onnxruntime.InferenceSession is wasm_rt.InferenceSession
                               and C.SessionOptions is wasm_rt.SessionOptions
                               and Fail is wasm_rt.Fail and NoSuchFile is wasm_rt.NoSuchFile)
        out["spec"] = importlib.util.find_spec("onnxruntime") is not None
        out["providers"] = onnxruntime.get_available_providers()
        out["normalized"] = check_and_normalize_provider_args([("a", {1: 2}), "b"], None, ["a", "b"])
        try:
            onnxruntime.InferenceSession(b"not a model")
        except C.InvalidProtobuf as e:
            out["caught"] = type(e).__name__
    """, "wasm_rt")
    assert ours == {"compat": True, "same_classes": True, "spec": True,
                    "providers": ["CPUExecutionProvider"],
                    "normalized": [["a", "b"], [{"1": "2"}, {}]], "caught": "InvalidProtobuf"}


def test_install_refuses_to_replace_an_imported_onnxruntime():
    import onnxruntime  # noqa: F401

    import wasm_rt.compat

    with pytest.raises(wasm_rt.Fail, match="already imported"):
        wasm_rt.compat.install()
    assert not wasm_rt.compat.installed()


def test_silero_vad_runs_unchanged_and_matches_onnxruntime():
    pytest.importorskip("silero_vad")
    pytest.importorskip("torch")
    ours, oracle = _both("""
        import numpy as np
        import torch
        from silero_vad import get_speech_timestamps, load_silero_vad
        model = load_silero_vad(onnx=True)
        rng = np.random.default_rng(0)
        t = np.arange(16000 * 3) / 16000
        # silence, then a voiced-like tone with harmonics and noise, then silence
        voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 540), 1))
        wav = (0.4 * voice * ((t > 1.0) & (t < 2.2)) + 0.01 * rng.standard_normal(t.size))
        wav = torch.from_numpy(wav.astype(np.float32))
        out["probs"] = [float(model(wav[i:i + 512], 16000)) for i in range(0, wav.numel() - 511, 512)]
        model.reset_states()
        out["speech"] = get_speech_timestamps(wav, model, sampling_rate=16000)
    """)
    np.testing.assert_allclose(ours["probs"], oracle["probs"], rtol=0, atol=1e-5)
    assert ours["speech"] == oracle["speech"]
    assert len(ours["probs"]) == 93


def test_text2tashkeel_runs_unchanged_and_matches_onnxruntime():
    pytest.importorskip("text2tashkeel")
    ours, oracle = _both("""
        import text2tashkeel
        sentences = ["ذهب الولد الى المدرسة", "كتب الطالب الدرس في الدفتر"]
        for model in ("rawi-int8", "rawi-v2-int8", "rawi-v3-int8", "rawi-ensemble"):
            d = text2tashkeel.Diacritizer(model)
            out[model] = [d.diacritize(s) for s in sentences]
    """)
    assert ours == oracle
    assert ours["rawi-v2-int8"][0] != "ذهب الولد الى المدرسة"  # diacritics were added
