"""onnxruntime's com.microsoft quantized matrix operators: MatMulNBits, GatherBlockQuantized, QGemm, DynamicQuantizeMatMul, MatMulIntegerToFloat."""

from __future__ import annotations
