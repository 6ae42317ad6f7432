"""Whole models, wasm_rt against onnxruntime on the same inputs.

* The nine ``light_*.onnx`` CNNs shipped inside the onnx wheel.  Their weights
  are placeholders (every ConstantOfShape fills 0.02), so they prove loading,
  shapes, operator coverage, memory and speed more than numerics.
* Three PyTorch models with random weights (a CNN, a BERT-like encoder and a
  GPT-2-like decoder), exported at test time by scripts/export_torch_models.py
  with dynamic batch/sequence axes, run at several shapes and at every graph
  optimization level of both runtimes.  These carry the numerics.

Timings and the largest errors go into the run summary (tests/reporting.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import reporting

import wasm_rt

REPO = Path(__file__).resolve().parent.parent
LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = sorted(p.stem for p in LIGHT_DIR.glob("light_*.onnx"))

# Both runtimes accumulate float32 products in different orders (im2col + BLAS
# against MLAS's blocked kernels).  A dot product of K terms then differs by up
# to about K * eps relative; the widest here is K = 3*3*512 = 4608 (vgg19),
# i.e. ~5e-4, and errors carry through up to ~120 layers.  rtol 1e-3 covers
# that with margin; atol is scaled to each output's magnitude so that values
# near zero (softmax tails, ReLU cut-offs) do not need a relative match.
LIGHT_RTOL = 1e-3
LIGHT_ATOL_FRACTION = 1e-4

# The PyTorch models are small (K <= 97, two layers), so float32 reordering
# errors stay near 1e-6; onnxruntime itself differs from PyTorch by up to 3e-6
# on outputs of magnitude ~6.  1e-4 leaves a 30x margin and still catches any
# real mistake (a wrong mask, epsilon or GELU variant moves outputs by >1e-3).
TORCH_RTOL = 1e-4
TORCH_ATOL = 1e-4


def _ort_session(model, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def _wasm_rt_session(model, level=wasm_rt.GraphOptimizationLevel.ORT_ENABLE_ALL):
    so = wasm_rt.SessionOptions()
    so.graph_optimization_level = level
    return wasm_rt.InferenceSession(model, so)


def _timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def _max_errors(ours, theirs) -> tuple[float, float]:
    """Largest absolute and relative (to the output's max |value|) difference."""
    abs_err = max(float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0 for a, b in zip(ours, theirs))
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0 for b in theirs) or 1.0
    return abs_err, abs_err / scale


def _assert_close(ours, theirs, rtol, atol, what):
    assert len(ours) == len(theirs), f"{what}: {len(ours)} outputs, onnxruntime gives {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert isinstance(a, np.ndarray), f"{what} output {i}: {type(a).__name__}, not ndarray"
        assert a.dtype == b.dtype, f"{what} output {i}: dtype {a.dtype}, onnxruntime {b.dtype}"
        assert a.shape == b.shape, f"{what} output {i}: shape {a.shape}, onnxruntime {b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{what} output {i}")


# --------------------------------------------------------------------------
# light_* CNNs from the onnx wheel
# --------------------------------------------------------------------------


def _with_logits(path: Path) -> tuple[bytes, str | None]:
    """The model with its final Softmax's input added as a second output.

    With the 0.02 placeholder weights the logits reach ~1e10, where one float32
    ulp is ~1e3: two correct runtimes summing in different orders then give
    logits a few ulps apart, and softmax turns that into 0 against 1/1000.  The
    probabilities are only comparable when the logits are small, so the logits
    are checked too (relatively), and they carry the verdict when softmax is
    that ill-conditioned.
    """
    model = onnx.load(str(path))
    last = model.graph.node[-1]
    if last.op_type != "Softmax":
        return model.SerializeToString(), None
    model.graph.output.append(onnx.helper.make_value_info(last.input[0], onnx.TypeProto()))
    return model.SerializeToString(), last.input[0]


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name):
    model, logits_name = _with_logits(LIGHT_DIR / f"{name}.onnx")
    ours_sess, ours_load = _timed(wasm_rt.InferenceSession, model)
    (inp,) = ours_sess.get_inputs()
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    ours, ours_run = _timed(ours_sess.run, None, {inp.name: x})
    del ours_sess

    theirs_sess, theirs_load = _timed(_ort_session, model)
    assert [i.name for i in theirs_sess.get_inputs()] == [inp.name]
    theirs, theirs_run = _timed(theirs_sess.run, None, {inp.name: x})
    del theirs_sess

    # A few float32 ulps of the logits must stay below the probabilities' rtol
    # (dp/p ~ d logit): 100 ulps at |logits| = 100 is ~1e-3.
    logit_scale = float(np.max(np.abs(theirs[1]))) if logits_name else 0.0
    compared = "probabilities and logits" if logits_name else "output"
    if logit_scale > 100:
        ours, theirs, compared = ours[1:], theirs[1:], f"logits only (|logits| ~ {logit_scale:.1e})"
    abs_err, rel_err = _max_errors(ours, theirs)
    reporting.record(
        "light_models",
        model=name,
        output=f"{list(theirs[0].shape)}",
        compared=compared,
        wasm_rt_load_s=ours_load,
        wasm_rt_run_s=ours_run,
        ort_load_s=theirs_load,
        ort_run_s=theirs_run,
        slowdown=ours_run / max(theirs_run, 1e-9),
        max_abs_err=abs_err,
        max_rel_err=rel_err,
    )
    atol = LIGHT_ATOL_FRACTION * max(float(np.max(np.abs(t))) for t in theirs)
    _assert_close(ours, theirs, LIGHT_RTOL, atol, name)


# The same CNNs with random weights: each ConstantOfShape placeholder becomes
# an initializer of He-scaled random values (BatchNorm statistics and scales
# near their usual ranges), so activations stay O(1), the softmax is well
# conditioned and the probabilities themselves can be compared.  Models with
# more than ~120 MB of weights (alexnet, zfnet512, vgg19) are left to the
# placeholder test above to keep the suite quick.
RANDOM_WEIGHT_MODELS = [
    "light_densenet121",
    "light_inception_v1",
    "light_inception_v2",
    "light_resnet50",
    "light_shufflenet",
    "light_squeezenet",
]


def _random_value(shape, consumer, index, rng):
    op = consumer.op_type if consumer is not None else ""
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    if op == "Gemm" and index == 1:
        trans_b = any(a.name == "transB" and a.i for a in consumer.attribute)
        fan_in = shape[1] if trans_b else shape[0]
    if (op in ("Conv", "Gemm") and index == 1) or (op == "MatMul" and len(shape) == 2):
        return rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))
    if op == "BatchNormalization" and index in (1, 4):  # scale, variance
        return rng.uniform(0.5, 1.5, shape)
    if op == "Mul":  # densenet/inception_v2 spell BatchNorm's scale as Unsqueeze -> Mul
        return rng.uniform(0.5, 1.5, shape)
    return rng.standard_normal(shape) * 0.1  # biases, shifts, means


def random_weight_model(name: str) -> Path:
    """``name`` with every ConstantOfShape placeholder replaced by random weights (cached)."""
    out = REPO / ".cache" / "light-random" / f"{onnx.__version__}-{name}.onnx"
    if out.exists():
        return out
    model = onnx.load(str(LIGHT_DIR / f"{name}.onnx"))
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    consumers = {}
    for node in g.node:
        for k, v in enumerate(node.input):
            consumers.setdefault(v, (node, k))
    rng = np.random.default_rng(sum(map(ord, name)))  # stable across runs and processes
    keep = []
    for node in g.node:
        if node.op_type != "ConstantOfShape" or node.input[0] not in inits:
            keep.append(node)
            continue
        shape = [int(d) for d in onnx.numpy_helper.to_array(inits[node.input[0]])]
        consumer, index = consumers.get(node.output[0], (None, 0))
        if consumer is not None and consumer.op_type == "Unsqueeze":
            consumer, index = consumers.get(consumer.output[0], (consumer, index))
        value = _random_value(shape, consumer, index, rng).astype(np.float32)
        g.initializer.append(onnx.numpy_helper.from_array(value, node.output[0]))
    del g.node[:]
    g.node.extend(keep)
    used = {v for n in g.node for v in n.input} | {o.name for o in g.output}
    kept_inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept_inits)
    # IR-3 style models also list initializers (here: the dropped shapes) as inputs.
    init_names = {t.name for t in kept_inits}
    kept_inputs = [vi for vi in g.input if vi.name in used and vi.name not in init_names]
    del g.input[:]
    g.input.extend(kept_inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    onnx.save(model, str(tmp))
    tmp.replace(out)
    return out


@pytest.mark.parametrize("name", RANDOM_WEIGHT_MODELS)
def test_light_model_random_weights(name):
    path = random_weight_model(name)
    model, logits_name = _with_logits(path)
    ours_sess = wasm_rt.InferenceSession(model)
    (inp,) = ours_sess.get_inputs()
    x = np.random.default_rng(1).standard_normal([1, 3, 224, 224], dtype=np.float32)
    ours, ours_run = _timed(ours_sess.run, None, {inp.name: x})
    theirs, theirs_run = _timed(_ort_session(model).run, None, {inp.name: x})
    abs_err, rel_err = _max_errors(ours, theirs)
    top1 = int(np.argmax(theirs[0])), int(np.argmax(ours[0]))
    reporting.record(
        "light_models_random_weights",
        model=name,
        outputs="probabilities and logits" if logits_name else "output",
        max_abs_logit=float(np.max(np.abs(theirs[-1]))),
        top1_ort_vs_ours=f"{top1[0]} / {top1[1]}",
        wasm_rt_run_s=ours_run,
        ort_run_s=theirs_run,
        max_abs_err=abs_err,
        max_rel_err=rel_err,
    )
    atol = LIGHT_ATOL_FRACTION * max(float(np.max(np.abs(t))) for t in theirs)
    _assert_close(ours, theirs, LIGHT_RTOL, atol, f"{name} (random weights)")


# --------------------------------------------------------------------------
# PyTorch exports with random weights
# --------------------------------------------------------------------------

SHAPES = [(2, 7), (3, 11), (1, 1)]  # (batch, sequence): export used (2, 7)
LEVELS = [
    name
    for name in ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_LAYOUT", "ORT_ENABLE_ALL")
    if hasattr(ort.GraphOptimizationLevel, name) and hasattr(wasm_rt.GraphOptimizationLevel, name)
]


@pytest.fixture(scope="session")
def exporter():
    pytest.importorskip("torch")
    sys.path.insert(0, str(REPO / "scripts"))
    import export_torch_models

    return export_torch_models


@pytest.fixture(scope="session")
def torch_models(exporter):
    """The exported models, cached per exporter source and torch version."""
    import torch

    source = Path(exporter.__file__).read_bytes()
    key = hashlib.sha256(source + torch.__version__.encode()).hexdigest()[:12]
    out = REPO / ".cache" / "torch-models" / key
    paths = {name: out / f"{name}.onnx" for name in exporter.MODELS}
    if not all(p.exists() for p in paths.values()):
        tmp = out.with_name(f"{key}.tmp-{os.getpid()}")
        exporter.export_all(tmp)
        try:
            tmp.replace(out)
        except OSError:  # another run exported it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    return paths


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", ["cnn", "bert", "gpt2"])
def test_torch_model(name, level, torch_models, exporter):
    path = str(torch_models[name])
    ours_sess = _wasm_rt_session(path, getattr(wasm_rt.GraphOptimizationLevel, level))
    theirs_sess = _ort_session(path, getattr(ort.GraphOptimizationLevel, level))
    assert [i.name for i in ours_sess.get_inputs()] == [i.name for i in theirs_sess.get_inputs()]
    assert [o.name for o in ours_sess.get_outputs()] == [o.name for o in theirs_sess.get_outputs()]
    for batch, seq in SHAPES:
        feeds = exporter.sample_inputs(name, batch, seq, seed=batch * 100 + seq)
        ours, ours_run = _timed(ours_sess.run, None, feeds)
        theirs, theirs_run = _timed(theirs_sess.run, None, feeds)
        abs_err, rel_err = _max_errors(ours, theirs)
        reporting.record(
            "torch_models",
            model=name,
            level=level,
            batch_seq=f"{batch}x{seq}",
            wasm_rt_run_s=ours_run,
            ort_run_s=theirs_run,
            max_abs_err=abs_err,
            max_rel_err=rel_err,
        )
        _assert_close(ours, theirs, TORCH_RTOL, TORCH_ATOL, f"{name} {level} batch={batch} seq={seq}")


@pytest.mark.parametrize("name", ["cnn", "bert", "gpt2"])
def test_torch_model_matches_pytorch(name, torch_models, exporter):
    """The exported graph itself is right: wasm_rt agrees with the PyTorch module."""
    sess = wasm_rt.InferenceSession(str(torch_models[name]))
    for batch, seq in SHAPES:
        feeds = exporter.sample_inputs(name, batch, seq, seed=7)
        ours = sess.run(None, feeds)
        _assert_close(ours, exporter.torch_outputs(name, feeds), TORCH_RTOL, TORCH_ATOL, f"{name} vs torch")
