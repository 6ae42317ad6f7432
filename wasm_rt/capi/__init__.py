"""The ``onnxruntime.capi`` names code written for onnxruntime imports, backed by wasm_rt.

``wasm_rt.compat.install()`` registers these modules under their onnxruntime names.
"""
