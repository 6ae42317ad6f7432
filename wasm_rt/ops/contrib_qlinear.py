"""onnxruntime's com.microsoft QOperator-format operators: QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat, QLinear pools and softmax."""

from __future__ import annotations
