"""com.microsoft operators onnxruntime's quantize_dynamic emits for fused
transformer graphs: QAttention, QEmbedLayerNormalization, DynamicQuantizeLSTM."""

from __future__ import annotations
