"""onnxruntime's com.microsoft fused linear operators: FusedMatMul, FusedConv."""

from __future__ import annotations
