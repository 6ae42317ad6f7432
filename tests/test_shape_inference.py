"""wasm_rt's shape and type inference against onnx's (data_prop=True), the actual
outputs of the ONNX node cases, onnxruntime's get_outputs(), and the models the
suite builds.

Each node case's model is stripped of its declared output types and value_info
first, so what is compared is inferred, not copied from the declarations.
``python tests/test_shape_inference.py`` prints the agreement counts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import wasm_rt
from wasm_rt.ir import build_model_graph
from wasm_rt.model import load
from wasm_rt.shape_inference import infer, metadata_graph, public_dim
from wasm_rt.symbolic import Dim

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / ".cache" / "onnx-node-cases"
MODELS = REPO / ".cache" / "models"
LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"

# Cases where onnx's inference, not ours, is wrong or where the case itself
# has no single answer: name -> why.  Kept exact: a case listed here that
# agrees fails the test.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _strip(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for out in m.graph.output:
        out.ClearField("type")
    del m.graph.value_info[:]
    return m


def _onnx_types(model: onnx.ModelProto) -> dict[str, tuple[str, list | None]]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 - onnx refuses some valid cases; count them as unknown
        return {}
    found = {}
    for vi in list(inferred.graph.output) + list(inferred.graph.value_info):
        t = vi.type
        if t.HasField("tensor_type") and t.tensor_type.elem_type:
            elem = _ONNX_NAMES.get(t.tensor_type.elem_type, "?")
            shape = None
            if t.tensor_type.HasField("shape"):
                shape = [
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in t.tensor_type.shape.dim
                ]
            found[vi.name] = (elem, shape)
    return found


_ONNX_NAMES = {
    v: k
    for k, v in {
        "float": 1,
        "uint8": 2,
        "int8": 3,
        "uint16": 4,
        "int16": 5,
        "int32": 6,
        "int64": 7,
        "string": 8,
        "bool": 9,
        "float16": 10,
        "double": 11,
        "uint32": 12,
        "uint64": 13,
        "complex64": 14,
        "complex128": 15,
        "bfloat16": 16,
        "float8e4m3fn": 17,
        "float8e4m3fnuz": 18,
        "float8e5m2": 19,
        "float8e5m2fnuz": 20,
        "uint4": 21,
        "int4": 22,
        "float4e2m1": 23,
        "float8e8m0": 24,
        "uint2": 25,
        "int2": 26,
    }.items()
}


def _actual_outputs(case: Path, model: onnx.ModelProto) -> dict[str, tuple[str, list]]:
    found = {}
    data = case / "test_data_set_0"
    for k, out in enumerate(model.graph.output):
        f = data / f"output_{k}.pb"
        if not f.exists() or not out.type.HasField("tensor_type"):
            continue  # sequence/optional outputs are stored as other protos
        t = onnx.TensorProto()
        t.ParseFromString(f.read_bytes())
        if not t.data_type:
            continue
        found[out.name] = (_ONNX_NAMES.get(t.data_type, "?"), [int(d) for d in t.dims])
    return found


def _ours(model: onnx.ModelProto):
    loaded = load(model.SerializeToString(), None)
    graph = build_model_graph(loaded.proto, loaded.ext)
    return infer(graph, loaded.opsets), graph


def _same_dims(ours, theirs) -> str:
    """'equal', 'more' (we know dims they do not), 'less' or 'mismatch'."""
    if ours is None and theirs is None:
        return "equal"
    if theirs is None:
        return "more"
    if ours is None:
        return "less"
    if len(ours) != len(theirs):
        return "mismatch"
    verdict = "equal"
    for a, b in zip(ours, theirs):
        pa = public_dim(a) if isinstance(a, Dim) else a
        if b is None or (isinstance(b, str) and b.startswith("unk__")):
            if pa is not None and not (isinstance(a, Dim) and b is not None):
                verdict = "more" if verdict == "equal" else verdict
        elif pa is None:
            verdict = "less" if verdict != "mismatch" else verdict
        elif isinstance(b, int) and isinstance(pa, int):
            if pa != b:
                return "mismatch"
        elif isinstance(b, int) or isinstance(pa, int):
            verdict = (
                ("more" if isinstance(pa, int) else "less")
                if verdict == "equal"
                else verdict
            )
        elif str(pa) != b:
            verdict = "more" if verdict == "equal" else verdict
    return verdict


def compare_case(case: Path) -> dict[str, str]:
    """Per graph output: 'mismatch: ...' where our type or a concrete dim differs
    from the actual output (ground truth) or from onnx's inference; else 'less'
    where onnx knows a dim we do not, 'more' where we know one onnx does not,
    'equal' otherwise."""
    model = onnx.load(str(case / "model.onnx"))
    stripped = _strip(model)
    actual = _actual_outputs(case, model)
    theirs = _onnx_types(stripped)
    try:
        inf, _ = _ours(stripped)
    except wasm_rt.WasmRtError as e:
        return {"<load>": f"skip: {type(e).__name__}"}
    verdicts = {}
    for out in model.graph.output:
        name = out.name
        ours = inf.values.get(name)
        truth = actual.get(name) if out.type.HasField("tensor_type") else None
        ref = theirs.get(name)
        if ours is None or ours.elem_type == "unknown":
            verdicts[name] = "less" if ref else "equal"
            continue
        bad = None
        for what, other in (("actual", truth), ("onnx", ref)):
            if other is None or bad:
                continue
            if ours.elem_type != other[0]:
                bad = f"mismatch: type {ours.elem_type} vs {what} {other[0]}"
            elif _same_dims(ours.shape, other[1]) == "mismatch":
                bad = f"mismatch: shape {_fmt(ours.shape)} vs {what} {other[1]}"
        if bad:
            verdicts[name] = bad
        elif ref is None:
            verdicts[name] = "more" if ours.shape is not None else "equal"
        else:
            verdicts[name] = _same_dims(ours.shape, ref[1])
    return verdicts


def _fmt(shape):
    return (
        None
        if shape is None
        else [public_dim(d) if isinstance(d, Dim) else d for d in shape]
    )


def node_case_report(cases: list[Path]) -> dict:
    counts = {"equal": 0, "more": 0, "less": 0, "mismatch": 0, "skip": 0}
    mismatches, less = [], []
    for case in cases:
        for name, v in compare_case(case).items():
            key = v.split(":")[0]
            counts[key] += 1
            if key == "mismatch":
                mismatches.append(f"{case.name}/{name}: {v}")
            elif key == "less":
                less.append(f"{case.name}/{name}")
    return {"counts": counts, "mismatches": mismatches, "less": less}


def _node_cases() -> list[Path]:
    if not CASES.exists():
        return []
    return sorted(p for p in CASES.iterdir() if (p / "model.onnx").exists())


# --- tests ------------------------------------------------------------------------


@pytest.mark.skipif(
    not CASES.exists(), reason="node cases not generated (run test_conformance)"
)
def test_node_cases_agree():
    report = node_case_report(_node_cases())
    mism = [m for m in report["mismatches"] if m.split("/")[0] not in KNOWN_DIFFERENCES]
    assert not mism, f"{len(mism)} mismatches:\n" + "\n".join(mism[:60])
    c = report["counts"]
    # Nearly every output must be known at least as well as onnx knows it.
    assert c["less"] <= 0.02 * sum(c.values()), report["less"][:60]


def ort_node_case_report(cases: list[Path]) -> dict:
    """Our output types against onnxruntime's get_outputs() on the stripped cases
    (onnxruntime runs onnx's inference plus its own contrib rules at load)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    counts = {"equal": 0, "more": 0, "less": 0, "mismatch": 0, "ort_refused": 0}
    bad = []
    for case in cases:
        stripped = _strip(onnx.load(str(case / "model.onnx")))
        try:
            ref = ort.InferenceSession(
                stripped.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        except Exception:  # noqa: BLE001 - onnxruntime lacks some ops/types: nothing to compare
            counts["ort_refused"] += 1
            continue
        inf, _ = _ours(stripped)
        for o in ref.get_outputs():
            vt = inf.values.get(o.name)
            if vt is None or vt.elem_type == "unknown":
                v = "less"
            elif vt.type_string != o.type:
                v = "mismatch"
            elif not o.type.startswith("tensor("):
                v = "equal"
            elif not o.shape:  # [] is both a scalar and an unknown rank there
                v = (
                    "equal"
                    if vt.shape == ()
                    else "more"
                    if vt.shape is not None
                    else "equal"
                )
            else:
                v = _same_dims(vt.shape, o.shape)
            counts[v] += 1
            if v in ("less", "mismatch"):
                bad.append(
                    f"{case.name}/{o.name}: ours {vt}, onnxruntime {o.type} {o.shape}"
                )
    return {"counts": counts, "bad": bad}


@pytest.mark.skipif(
    not CASES.exists(), reason="node cases not generated (run test_conformance)"
)
def test_node_cases_agree_with_onnxruntime():
    report = ort_node_case_report(_node_cases())
    assert not report["bad"], "\n".join(report["bad"][:60])


@pytest.mark.parametrize("name", sorted(p.stem for p in LIGHT_DIR.glob("light_*.onnx")))
def test_light_models_match_onnx(name):
    model = onnx.load(str(LIGHT_DIR / f"{name}.onnx"))
    stripped = _strip(model)
    theirs = _onnx_types(stripped)
    inf, graph = _ours(stripped)
    assert not inf.problems, inf.problems[:5]
    checked = 0
    for vname, (elem, shape) in theirs.items():
        ours = inf.values[vname]
        assert ours.elem_type == elem, vname
        assert _same_dims(ours.shape, shape) in ("equal", "more"), (vname, ours, shape)
        checked += 1
    assert checked >= len(graph.nodes) // 2


def _transformer_models() -> list[Path]:
    return sorted(MODELS.glob("*/*/*/*.onnx")) if MODELS.exists() else []


@pytest.mark.skipif(not _transformer_models(), reason="transformer exports not built")
@pytest.mark.parametrize(
    "path", _transformer_models(), ids=lambda p: "/".join(p.parts[-3:])
)
def test_transformer_exports_match_onnx_and_onnxruntime(path):
    """With the declarations stripped, every value onnx infers and every output
    onnxruntime declares comes out the same (or more precise) from our rules."""
    import onnxruntime as ort

    model = onnx.load(str(path))
    stripped = _strip(model)
    inf, _ = _ours(stripped)
    assert not inf.problems, inf.problems[:5]
    for name, (elem, shape) in _onnx_types(stripped).items():
        ours = inf.values[name]
        assert ours.elem_type == elem, (name, ours, elem)
        assert _same_dims(ours.shape, shape) in ("equal", "more"), (name, ours, shape)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    for theirs in ref.get_outputs():
        ours = inf.values[theirs.name]
        assert ours.type_string == theirs.type, theirs.name
        assert _same_dims(ours.shape, theirs.shape) in ("equal", "more"), (
            ours,
            theirs.shape,
        )
    sess = wasm_rt.InferenceSession(str(path))
    assert not sess.shape_problems, sess.shape_problems[:5]
    for ours, theirs in zip(sess.get_outputs(), ref.get_outputs()):
        assert (ours.type, ours.shape) == (theirs.type, theirs.shape)


def test_every_kernel_has_a_shape_rule():
    from wasm_rt.registry import ops_without_rules

    missing = ops_without_rules()
    assert not missing, (
        f"kernels without a shape rule: {missing}; register one next to the kernel "
        "(@register(op, since, shape=rule), helpers in wasm_rt.shape_rules)"
    )


def test_declared_disagreement_is_reported_not_fatal():
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = wasm_rt.InferenceSession(model.SerializeToString())
    assert any(
        "declared shape [2, 4], inferred [2, 3]" in p for p in sess.shape_problems
    )
    assert sess.run(None, {"x": np.ones((2, 3), np.float32)})[0].shape == (2, 3)


def test_get_outputs_shows_symbolic_dims_as_onnxruntime():
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [
            helper.make_node("Concat", ["a", "b"], ["y"], axis=1),
            helper.make_node("NonZero", ["a"], ["nz"]),
        ],
        "g",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", "seq"]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", "past"]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("nz", TensorProto.INT64, None),
        ],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = wasm_rt.InferenceSession(model.SerializeToString())
    y, nz = sess.get_outputs()
    assert (y.type, y.shape) == ("tensor(float)", ["batch", "past + seq"])
    assert (nz.type, nz.shape) == ("tensor(int64)", [2, None])


def test_metadata_graph_never_reads_external_data(tmp_path):
    from onnx import TensorProto, helper

    w = numpy_helper.from_array(np.ones((64, 32), np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1, 8, 4], np.int64), "shape")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y"]),
        helper.make_node("Reshape", ["y", "shape"], ["z"]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        [w, shape],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(
        model,
        str(tmp_path / "m.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    (tmp_path / "weights.bin").unlink()  # must not be needed
    graph, opsets = metadata_graph(
        onnx.load(str(tmp_path / "m.onnx"), load_external_data=False)
    )
    inf = infer(graph, opsets, {"batch": 3})
    assert inf.values["y"].shape == (3, 32)
    # The shape tensor was external too: its dims are known, its values not.
    assert inf.values["z"].rank == 3
    assert inf.values["w"].elem_type == "float" and inf.values["w"].shape == (64, 32)


def test_symbolic_dims_flow_through_shape_computations():
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Shape", ["past"], ["ps"]),
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["ps", "two"], ["p_len"], axis=0),
        helper.make_node("Gather", ["xs", "two"], ["s_len"], axis=0),
        helper.make_node("Add", ["p_len", "s_len"], ["total"]),
        helper.make_node("Concat", ["past", "x"], ["cat"], axis=2),
        helper.make_node("Unsqueeze", ["total", "zero"], ["total1"]),
        helper.make_node("Concat", ["bdim", "total1"], ["target"], axis=0),
        helper.make_node("Reshape", ["cat_flat", "target"], ["r"]),
        helper.make_node("Flatten", ["cat"], ["cat_flat"], axis=3),
    ]
    inits = [
        numpy_helper.from_array(np.array(v, np.int64), n)
        for n, v in (("two", 2), ("one", 1), ("zero", [0]), ("bdim", [-1]))
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info(
                "past", TensorProto.FLOAT, ["batch", 4, "past", 8]
            ),
            helper.make_tensor_value_info(
                "x", TensorProto.FLOAT, ["batch", 4, "seq", 8]
            ),
        ],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    loaded = load(model.SerializeToString(), None)
    graph = build_model_graph(loaded.proto, loaded.ext)
    inf = infer(graph, loaded.opsets)
    assert [str(d) for d in inf.values["cat"].shape] == [
        "batch",
        "4",
        "past + seq",
        "8",
    ]
    assert str(inf.values["r"].shape[1]) == "past + seq"
    bound = infer(graph, loaded.opsets, {"batch": 2, "past": 5, "seq": 3})
    assert bound.values["r"].shape == (64, 8)


if __name__ == "__main__":
    cases = _node_cases()
    if len(sys.argv) > 1:
        cases = [c for c in cases if any(s in c.name for s in sys.argv[1:])]
    rep = node_case_report(cases)
    print("vs onnx + actual outputs:", json.dumps(rep["counts"]))
    ort_rep = ort_node_case_report(cases)
    print("vs onnxruntime get_outputs():", json.dumps(ort_rep["counts"]))
    for m in ort_rep["bad"]:
        print("ORT", m)
    for m in rep["mismatches"]:
        print("MISMATCH", m)
    for m in rep["less"]:
        print("LESS", m)


def test_model_local_functions_are_inferred_through_their_bodies():
    from onnx import TensorProto, helper

    fn = helper.make_function(
        "local",
        "Twice",
        ["a"],
        ["b"],
        [helper.make_node("Concat", ["a", "a"], ["b"], axis=0)],
        [helper.make_opsetid("", 17)],
    )
    g = helper.make_graph(
        [helper.make_node("Twice", ["x"], ["y"], domain="local")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(
        g,
        functions=[fn],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
    )
    sess = wasm_rt.InferenceSession(model.SerializeToString())
    assert sess.get_outputs()[0].shape == ["2*n", 3]


def test_a_failing_rule_is_a_problem_not_an_error():
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Concat", ["a", "b"], ["y"], axis=0)],
        "g",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = wasm_rt.InferenceSession(model.SerializeToString())
    assert any("Concat" in p and "ranks" in p for p in sess.shape_problems)
    assert (sess.get_outputs()[0].type, sess.get_outputs()[0].shape) == (
        "tensor(float)",
        [],
    )
