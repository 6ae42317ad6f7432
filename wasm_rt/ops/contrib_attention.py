"""onnxruntime's com.microsoft attention operators: Attention, MultiHeadAttention, GroupQueryAttention."""

from __future__ import annotations
