"""Which operators take low-precision tensors, and how (the one place it is said).

Low-precision tensors (bfloat16, float8*, float8e8m0, float4e2m1, int4/uint4,
int2/uint2) are structured numpy arrays (see :mod:`wasm_rt.dtypes`).  Every
kernel call goes through :func:`call_kernel`, which looks the op up here:

- ``NATIVE``: the kernel works on the structured arrays themselves.  These are
  data-movement ops (the bits move unchanged: numpy copies, reshapes, takes,
  concatenates and pads structured items like any others), container and
  control-flow ops, and the kernels that convert on purpose (Cast, CastLike,
  BitCast, QuantizeLinear, DequantizeLinear).
- ``VIA_FLOAT32``: ops the ONNX spec allows bfloat16 in that compute.  bfloat16
  inputs are widened to float32 (exact), the kernel computes in float32, and
  float32 outputs are rounded once, to nearest even, back to bfloat16 when the
  op's first input was bfloat16 (its type ``T``); integer and bool outputs
  (ArgMax indices, Equal) are left as they are.  onnxruntime does the same
  where it has bfloat16 kernels: it widens each element to float, computes,
  and narrows with ``BFloat16(float)``, which rounds to nearest even.
- anything else: a low-precision input is refused with NotImplemented naming
  the op and the type.  numpy also refuses arithmetic on structured arrays, so
  nothing is ever computed on raw bits, silently or otherwise.

An op family that learns to take these types adds its op names here.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import dtypes, lowprec
from .errors import NotImplemented as NotImplementedErr

NATIVE = "native"
VIA_FLOAT32 = "float32"

_NATIVE_ONNX = {
    # conversions that understand the structured dtypes
    "Cast", "CastLike", "BitCast", "QuantizeLinear", "DequantizeLinear",
    # data movement
    "Identity", "Reshape", "Transpose", "Gather", "GatherElements", "GatherND",
    "Scatter", "ScatterElements", "ScatterND", "TensorScatter", "Concat", "Slice",
    "Split", "Squeeze", "Unsqueeze", "Flatten", "Pad", "Where", "Expand", "Tile",
    "Compress", "OneHot", "ReverseSequence", "DepthToSpace", "SpaceToDepth",
    "Shape", "Size", "Constant", "ConstantOfShape",
    # control flow and containers (their bodies' nodes are looked up again)
    "If", "Loop", "Scan", "SequenceMap", "Optional", "OptionalGetElement",
    "OptionalHasElement", "SequenceConstruct", "SequenceAt", "SequenceEmpty",
    "SequenceInsert", "SequenceErase", "SequenceLength", "SplitToSequence",
    "ConcatFromSequence",
}  # fmt: skip

_FLOAT32_ONNX = {
    # elementwise arithmetic and comparisons
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Neg", "Abs", "Sign", "Reciprocal",
    "Sqrt", "Exp", "Log", "Erf", "Floor", "Ceil", "Round", "Max", "Min", "Mean",
    "Sum", "Clip", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
    "IsNaN", "IsInf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
    "Asinh", "Acosh", "Atanh", "Tanh", "NonZero",
    # activations
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid",
    "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Swish",
    "ThresholdedRelu", "Shrink", "Softmax", "LogSoftmax", "Hardmax",
    # reductions, sorting, cumulative
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    "ArgMax", "ArgMin", "TopK", "Unique", "CumSum", "CumProd",
    # linear algebra, nn, normalization, attention
    "MatMul", "Gemm", "Einsum", "Conv", "ConvTranspose", "AveragePool", "MaxPool",
    "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool", "LRN",
    "BatchNormalization", "InstanceNormalization", "LayerNormalization",
    "GroupNormalization", "RMSNormalization", "MeanVarianceNormalization",
    "LpNormalization", "Attention", "RotaryEmbedding", "Dropout",
    # value-producing ops whose output type follows a bfloat16 input
    "Range", "Trilu", "EyeLike", "Resize", "GridSample", "RoiAlign",
    "CenterCropPad", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
}  # fmt: skip

# com.microsoft kernels that read int4/uint4 (quantized weights) themselves.
_NATIVE_MS = {
    "DequantizeLinear", "QuantizeLinear", "GatherBlockQuantized", "MatMulNBits"
}  # fmt: skip

POLICY: dict[tuple[str, str], str] = {
    **{("", op): NATIVE for op in _NATIVE_ONNX},
    **{("", op): VIA_FLOAT32 for op in _FLOAT32_ONNX},
    **{("com.microsoft", op): NATIVE for op in _NATIVE_MS},
}


def _first_lowprec(args) -> np.dtype | None:
    for a in args:
        if isinstance(a, np.ndarray) and dtypes.is_lowprec(a.dtype):
            return a.dtype
        if isinstance(a, list) and a and isinstance(a[0], np.ndarray):
            if dtypes.is_lowprec(a[0].dtype):
                return a[0].dtype
    return None


def _round_back(result, target: np.dtype):
    if isinstance(result, tuple):
        return tuple(_round_back(r, target) for r in result)
    if isinstance(result, np.ndarray) and result.dtype == np.float32:
        return lowprec.from_float(result, target)
    return result


def call_kernel(
    domain: str, op_type: str, fn: Callable[..., Any], args: list, kwargs: dict,
    prefix: tuple = (),
):
    """``fn(*prefix, *args, **kwargs)`` with low-precision inputs handled as
    :data:`POLICY` says for (domain, op_type)."""
    found = _first_lowprec(args)
    if found is None:
        return fn(*prefix, *args, **kwargs)
    policy = POLICY.get((domain, op_type))
    if policy == NATIVE:
        return fn(*prefix, *args, **kwargs)
    name = dtypes.type_name(dtypes.from_numpy(found))
    if policy == VIA_FLOAT32 and found == dtypes.bfloat16:
        widened = [
            lowprec.to_float32(a)
            if isinstance(a, np.ndarray) and a.dtype == dtypes.bfloat16
            else a
            for a in args
        ]
        result = fn(*prefix, *widened, **kwargs)
        first = next((a for a in args if isinstance(a, np.ndarray)), None)
        if first is not None and first.dtype == dtypes.bfloat16:
            return _round_back(result, dtypes.bfloat16)
        return result
    raise NotImplementedErr(
        f"{op_type} does not take {name} inputs in wasm_rt"
        + (" (only bfloat16 among the low-precision types)" if policy else "")
        + "; Cast to float32 first"
    )
