"""onnxruntime's fused normalizations: SkipLayerNormalization, the simplified (RMS) forms, EmbedLayerNormalization."""

from __future__ import annotations
