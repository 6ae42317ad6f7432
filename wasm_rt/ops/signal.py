"""Signal processing: DFT, STFT, window functions, MelWeightMatrix.

Complex tensors travel as a trailing axis of size 2 (real, imaginary); a
trailing axis of size 1 is a real signal.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from .. import symbolic as sy
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T, norm_axis, type_of_code
from ._common import normalize_axis


def _scalar_int(t, what: str) -> int:
    v = np.asarray(t).reshape(-1)
    if v.size != 1:
        raise ValueError(f"{what} must be a scalar, got shape {np.shape(t)}")
    return int(v[0])


def _to_complex(x: np.ndarray) -> np.ndarray:
    if x.ndim < 2 or x.shape[-1] not in (1, 2):
        raise ValueError(
            f"signal must end in an axis of size 1 (real) or 2 (complex), got {x.shape}"
        )
    if x.shape[-1] == 1:
        return x[..., 0]
    return x[..., 0] + 1j * x[..., 1]


def _to_pairs(z: np.ndarray, dtype) -> np.ndarray:
    return np.stack([z.real, z.imag], axis=-1).astype(dtype, copy=False)


def _dft(x, dft_length, axis: int, inverse: int, onesided: int):
    if x.ndim < 2:
        raise ValueError(f"DFT input needs rank >= 2, got {x.shape}")
    axis = normalize_axis(axis, x.ndim)
    if axis == x.ndim - 1:
        raise ValueError("DFT axis cannot be the last (real/imaginary) axis")
    z = _to_complex(x)
    if dft_length is not None and np.size(dft_length):
        n = _scalar_int(dft_length, "dft_length")
    elif inverse and onesided:
        n = 2 * (x.shape[axis] - 1)
    else:
        n = x.shape[axis]
    if n < 1:
        raise ValueError(f"dft_length must be positive, got {n}")
    out_shape = list(x.shape[:-1])
    out_shape[axis] = n // 2 + 1 if onesided and not inverse else n
    check_alloc(out_shape + [2], np.complex128, "DFT output")
    if inverse and onesided:
        # The input is the non-negative half of a Hermitian spectrum.
        return np.fft.irfft(z, n=n, axis=axis)[..., None].astype(x.dtype, copy=False)
    if inverse:
        return _to_pairs(np.fft.ifft(z, n=n, axis=axis), x.dtype)
    y = np.fft.fft(z, n=n, axis=axis)
    if onesided:
        y = np.take(y, np.arange(n // 2 + 1), axis=axis)
    return _to_pairs(y, x.dtype)


@register("DFT", since=17)
def dft_17(x, dft_length=None, *, axis=1, inverse=0, onesided=0):
    return _dft(x, dft_length, axis, inverse, onesided)


@register("DFT", since=20)
def dft_20(x, dft_length=None, axis=None, *, inverse=0, onesided=0):
    ax = -2 if axis is None or not np.size(axis) else _scalar_int(axis, "axis")
    return _dft(x, dft_length, ax, inverse, onesided)


@register("STFT", since=17)
def stft(signal, frame_step, window=None, frame_length=None, *, onesided=1):
    if signal.ndim == 2:
        # onnxruntime also takes a real signal without its trailing axis.
        signal = signal[..., None]
    if signal.ndim != 3:
        raise ValueError(
            f"STFT signal must be [batch, length, 1 or 2] or a real [batch, length], "
            f"got {signal.shape}"
        )
    step = _scalar_int(frame_step, "frame_step")
    if window is not None and np.size(window):
        window = np.asarray(window)
        length = window.shape[0]
    elif frame_length is not None and np.size(frame_length):
        length = _scalar_int(frame_length, "frame_length")
        window = None
    else:
        raise ValueError("STFT needs a window or a frame_length")
    given = frame_length is not None and np.size(frame_length)
    if given and _scalar_int(frame_length, "frame_length") != length:
        raise ValueError(
            f"STFT frame_length {frame_length} differs from the window's {length}"
        )
    n_sig = signal.shape[1]
    if step < 1 or length < 1 or length > n_sig:
        raise ValueError(
            f"STFT: frame_step {step} and frame length {length} must be positive and the "
            f"frame no longer than the signal ({n_sig})"
        )
    frames = (n_sig - length) // step + 1
    bins = length // 2 + 1 if onesided else length
    check_alloc((signal.shape[0], frames, bins, 2), np.complex128, "STFT output")
    z = _to_complex(signal)
    # (batch, frames, length) view of the overlapping frames.
    framed = np.lib.stride_tricks.sliding_window_view(z, length, axis=1)[:, ::step]
    if window is not None:
        framed = framed * window.astype(np.float64)
    y = np.fft.fft(framed, axis=-1)
    if onesided:
        y = y[..., :bins]
    return _to_pairs(y, signal.dtype)


def _window(size, output_datatype, periodic, coeffs):
    n = _scalar_int(size, "size")
    if n < 0:
        raise ValueError(f"window size must be non-negative, got {n}")
    dtype = dtypes.to_numpy(output_datatype)
    check_alloc((n,), dtype, "window")
    denom = n if periodic else n - 1
    k = np.arange(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        # A symmetric window of size 1 is 0/0: NaN, as in onnxruntime and
        # the ONNX reference.
        phase = 2 * np.pi * k / denom
    w = sum(c * np.cos(i * phase) for i, c in enumerate(coeffs))
    return w.astype(dtype)


@register("HannWindow", since=17)
def hann_window(size, *, output_datatype=1, periodic=1):
    return _window(size, output_datatype, periodic, (0.5, -0.5))


@register("HammingWindow", since=17)
def hamming_window(size, *, output_datatype=1, periodic=1):
    # ONNX uses alpha = 25/46 (not the rounded 0.54 of some libraries).
    return _window(size, output_datatype, periodic, (25 / 46, -21 / 46))


@register("BlackmanWindow", since=17)
def blackman_window(size, *, output_datatype=1, periodic=1):
    return _window(size, output_datatype, periodic, (0.42, -0.5, 0.08))


@register("MelWeightMatrix", since=17)
def mel_weight_matrix(
    num_mel_bins,
    dft_length,
    sample_rate,
    lower_edge_hertz,
    upper_edge_hertz,
    *,
    output_datatype=1,
):
    mels = _scalar_int(num_mel_bins, "num_mel_bins")
    n_fft = _scalar_int(dft_length, "dft_length")
    rate = _scalar_int(sample_rate, "sample_rate")
    lo = float(np.asarray(lower_edge_hertz).reshape(-1)[0])
    hi = float(np.asarray(upper_edge_hertz).reshape(-1)[0])
    if mels < 1 or n_fft < 1 or rate < 1 or not 0 <= lo < hi:
        raise ValueError(
            f"MelWeightMatrix: need positive num_mel_bins ({mels}), dft_length ({n_fft}), "
            f"sample_rate ({rate}) and 0 <= lower_edge_hertz ({lo}) < upper_edge_hertz ({hi})"
        )
    spec_bins = n_fft // 2 + 1
    dtype = dtypes.to_numpy(output_datatype)
    check_alloc((spec_bins, mels), dtype, "MelWeightMatrix output")
    # Band edges equally spaced in mel, mapped back to spectrogram bins.
    lo_mel = 2595 * np.log1p(lo / 700) / np.log(10)
    hi_mel = 2595 * np.log1p(hi / 700) / np.log(10)
    edges = np.arange(mels + 2) * ((hi_mel - lo_mel) / (mels + 2)) + lo_mel
    hz = 700 * np.expm1(edges / 2595 * np.log(10))
    fb = (((n_fft + 1) * hz) // rate).astype(np.int64)
    left, center, right = fb[:-2], fb[1:-1], fb[2:]
    j = np.arange(spec_bins)[:, None]
    rise = np.where(
        center > left,
        (j - left) / np.maximum(center - left, 1),
        (j == center).astype(np.float64),
    )
    out = np.where((j >= left) & (j <= center), rise, 0.0)
    fall = (right - j) / np.maximum(right - center, 1)
    out = np.where((j >= center) & (j < right) & (right > center), fall, out)
    return out.astype(dtype)


# --- shape rules -----------------------------------------------------------


@shape_rule(("HannWindow", "HammingWindow", "BlackmanWindow"))
def _window_shape(ctx: RuleContext):
    n = ctx.dims(0)
    return T(
        type_of_code(ctx.attr("output_datatype", 1)), (n[0] if n else ctx.fresh(),)
    )


@shape_rule("MelWeightMatrix")
def _mel_shape(ctx: RuleContext):
    n_mel, dft, *_ = [ctx.dims(i) for i in range(5)]
    bins = sy.add(sy.floordiv(dft[0], 2), 1) if dft else ctx.fresh()
    return T(
        type_of_code(ctx.attr("output_datatype", 1)),
        (bins, n_mel[0] if n_mel else ctx.fresh()),
    )


@shape_rule("DFT", since=17)
def _dft_shape(ctx: RuleContext):
    x = ctx.shape(0)
    if x is None:
        return T(ctx.elem(0), None)
    if ctx.opset >= 20:
        axis_v = ctx.ints(2) if ctx.has(2) else [-2]
        axis = axis_v[0] if axis_v else None
    else:
        axis = ctx.attr("axis", 1)
    onesided, inverse = ctx.attr("onesided", 0), ctx.attr("inverse", 0)
    last = 1 if onesided and inverse else 2
    if axis is None:
        if onesided or ctx.has(1):
            return T(ctx.elem(0), ctx.fresh_shape(len(x) - 1) + (last,))
        return T(ctx.elem(0), tuple(x[:-1]) + (2,))
    axis = norm_axis(axis, len(x))
    out = list(x)
    length = ctx.dims(1) if ctx.has(1) else None
    if ctx.has(1):
        out[axis] = length[0] if length else ctx.fresh()
    if onesided and inverse:
        # A one-sided spectrum of n bins comes back as 2*(n-1) real samples.
        if not ctx.has(1):
            out[axis] = sy.mul(2, sy.add(out[axis], -1))
        out[-1] = 1
        return T(ctx.elem(0), out)
    if onesided:
        out[axis] = sy.add(sy.floordiv(out[axis], 2), 1)
    out[-1] = 2
    return T(ctx.elem(0), out)


@shape_rule("STFT")
def _stft_shape(ctx: RuleContext):
    x = ctx.shape(0)
    step = ctx.dims(1)
    window = ctx.shape(2) if ctx.has(2) else None
    length = ctx.dims(3) if ctx.has(3) else None
    if x is None or step is None:
        return T(ctx.elem(0), None)
    n = length[0] if length else (window[0] if window else None)
    if n is None:
        return T(ctx.elem(0), None)
    frames = sy.add(sy.floordiv(sy.add(x[1], sy.neg(n)), step[0]), 1)
    bins = sy.add(sy.floordiv(n, 2), 1) if ctx.attr("onesided", 1) else n
    return T(ctx.elem(0), (x[0], frames, bins, 2))
