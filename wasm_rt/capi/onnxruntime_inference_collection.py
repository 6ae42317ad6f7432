"""``onnxruntime.capi.onnxruntime_inference_collection``: the Python-level classes."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from wasm_rt import (  # noqa: F401
    AdapterFormat,
    InferenceSession,
    IOBinding,
    OrtDevice,
    OrtDeviceVendorId,
    OrtValue,
    SparseTensor,
)

Session = InferenceSession


def check_and_normalize_provider_args(providers, provider_options, available_provider_names):
    """(names, options) from onnxruntime's two ways of giving providers, as onnxruntime checks
    them: names or (name, options dict) pairs, or names with a parallel ``provider_options``
    list; option keys and values become str; a repeated provider is dropped with a warning;
    an unavailable name is warned about."""
    if providers is None:
        return [], []
    if not isinstance(providers, Sequence) or isinstance(providers, str):
        raise ValueError("'providers' should be a sequence.")  # noqa: TRY004 - as onnxruntime
    names, options, seen = [], [], set()

    def add(name, opts):
        if not isinstance(opts, dict):
            raise ValueError("Provider options values should be dicts.")  # noqa: TRY004 - as onnxruntime
        if name not in available_provider_names:
            warnings.warn(f"Specified provider '{name}' is not in available provider names."
                          f"Available providers: '{', '.join(available_provider_names)}'",
                          stacklevel=3)
        if name in seen:
            warnings.warn(f"Duplicate provider '{name}' encountered, ignoring.", stacklevel=3)
            return
        seen.add(name)
        names.append(name)
        options.append({str(k): str(v) for k, v in opts.items()})

    if provider_options is not None:
        if not isinstance(provider_options, Sequence) or isinstance(provider_options, str):
            raise ValueError("'provider_options' should be a sequence.")
        if len(providers) != len(provider_options):
            raise ValueError("'providers' and 'provider_options' should be the same length if both are given.")
        if not all(isinstance(p, str) for p in providers):
            raise ValueError("Only string values for 'providers' are supported if 'provider_options' is given.")
        for name, opts in zip(providers, provider_options):
            add(name, opts)
        return names, options
    for p in providers:
        if isinstance(p, str):
            add(p, {})
        elif isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
            add(p[0], p[1])
        else:
            raise ValueError("'providers' values must be either strings or (string, dict) tuples.")
    return names, options
