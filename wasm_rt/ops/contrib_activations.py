"""onnxruntime's com.microsoft activations: Gelu, FastGelu, BiasGelu, QuickGelu, BiasAdd, BiasSplitGelu."""

from __future__ import annotations
