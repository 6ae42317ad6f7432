"""numpy <-> JSON-able tensors for page.evaluate, and the JS that turns them into Tensors."""

from __future__ import annotations

import base64

import numpy as np

from wasm_rt.site.worker_bridge import JS_TO_NUMPY, NUMPY_TO_JS

# JS helpers defined once per page: b64 <-> typed arrays, Tensor feeds from JSON.
JS_HELPERS = """
(() => {
  const ARRAYS = { float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array,
    uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
    int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array };
  const fromB64 = (type, b64) => {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new ARRAYS[type](bytes.buffer);
  };
  const toB64 = (data) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  };
  window.jsio = {
    fromB64,
    toB64,
    feeds(list) {
      const feeds = {};
      for (const f of list) {
        const data = f.type === "string" ? f.data : fromB64(f.type, f.data);
        feeds[f.name] = new window.wasm_rt.Tensor(f.type, data, f.dims);
      }
      return feeds;
    },
    outputs(out) {
      const res = {};
      for (const [n, t] of Object.entries(out)) {
        res[n] = { type: t.type, dims: [...t.dims], data: t.type === "string" ? t.data : toB64(t.data) };
      }
      return res;
    },
  };
})();
"""


def to_js(name: str, value) -> dict:
    """A numpy array as {name, type, dims, data(base64 or strings)}."""
    arr = np.asarray(value)
    if arr.dtype == object:
        return {
            "name": name,
            "type": "string",
            "dims": list(arr.shape),
            "data": [str(x) for x in arr.ravel()],
        }
    flat = np.ascontiguousarray(arr).reshape(-1)
    if arr.dtype == np.float16:
        flat = flat.view(np.uint16)
    elif arr.dtype == np.bool_:
        flat = flat.view(np.uint8)
    data = base64.b64encode(flat.tobytes()).decode()
    return {
        "name": name,
        "type": NUMPY_TO_JS[arr.dtype],
        "dims": list(arr.shape),
        "data": data,
    }


def from_js(out: dict) -> np.ndarray:
    """The inverse of :func:`to_js` for a tensor that came back from the page."""
    if out["type"] == "string":
        return np.array(out["data"], dtype=object).reshape(out["dims"])
    raw = np.frombuffer(base64.b64decode(out["data"]), dtype=np.uint8)
    dtype = np.dtype(JS_TO_NUMPY[out["type"]])
    if dtype == np.float16:
        return raw.view(np.uint16).view(np.float16).reshape(out["dims"])
    return raw.view(dtype).reshape(out["dims"])
