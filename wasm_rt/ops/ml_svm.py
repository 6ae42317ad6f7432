"""ai.onnx.ml support vector machines: SVMClassifier, SVMRegressor."""

from __future__ import annotations
