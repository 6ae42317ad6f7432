"""Fusions that fold one node's arithmetic into its producer's constant weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Graph, Node

if TYPE_CHECKING:
    from . import PassContext


def fuse_conv_batchnorm(graph: Graph, ctx: "PassContext") -> bool:
    """Conv followed by inference BatchNormalization becomes one Conv.

    BN(conv(x, W) + B) = conv(x, W * s) + (B - mean) * s + beta with
    s = gamma / sqrt(var + eps), per output channel; the products are taken in
    float64 and stored in the weights' dtype, as onnxruntime's fusion does.
    """
    consumers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
        for g in node.subgraphs():
            for name in g.outer_refs():
                consumers.setdefault(name, []).append(node)
    outputs = {vi.name for vi in graph.outputs}
    constants = set(graph.initializers) - ctx.overridable
    removed: set[int] = set()
    replaced: set[str] = set()  # the original W, B and BN parameters of fused pairs
    for conv in graph.nodes:
        if conv.op_type != "Conv" or conv.domain or len(conv.outputs) != 1:
            continue
        y = conv.outputs[0]
        users = consumers.get(y, [])
        if y in outputs or len(users) != 1:
            continue
        bn = users[0]
        if not _is_inference_bn(bn, y, constants):
            continue
        params = _fusable_params(conv, bn, graph, constants)
        if params is None:
            continue  # left as written: the kernels report what is wrong, naming the node
        w, b, (gamma, beta, mean, var), eps = params
        scale = gamma / np.sqrt(var + eps)
        new_w = (w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        new_b = ((b.astype(np.float64) - mean) * scale + beta).astype(w.dtype)
        w_name, b_name = f"{conv.name}__bn_fused_W", f"{conv.name}__bn_fused_B"
        graph.initializers[w_name], graph.initializers[b_name] = new_w, new_b
        replaced.update(n for n in conv.inputs[1:] + bn.inputs[1:5] if n)
        conv.inputs = [conv.inputs[0], w_name, b_name]
        conv.outputs = [bn.outputs[0]]
        removed.add(id(bn))
    if not removed:
        return False
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    # Dead-node elimination ran before this pass: drop the originals nothing reads
    # any more, or the session holds both weight sets (resnet50: 187 MiB, not 98).
    still_read = set(outputs) | ctx.overridable
    for node in graph.nodes:
        still_read.update(node.inputs)
        for g in node.subgraphs():
            still_read |= g.outer_refs()
    for name in replaced - still_read:
        graph.initializers.pop(name, None)
    return True


def _fusable_params(conv: Node, bn: Node, graph: Graph, constants: set[str]):
    """(W, B, BN parameters in float64, epsilon) if the pair can be folded, else None.

    The model is untrusted: a missing weight, channel counts that disagree or a
    non-numeric epsilon make the pair unfusable instead of failing here.
    """
    if len(conv.inputs) < 2 or len(conv.inputs) > 3 or not conv.inputs[1]:
        return None
    if not all(n in constants for n in conv.inputs[1:] if n):
        return None
    w = graph.initializers[conv.inputs[1]]
    if not isinstance(w, np.ndarray) or w.dtype.kind != "f" or w.ndim < 3:
        return None
    channels = w.shape[0]
    if len(conv.inputs) == 3 and conv.inputs[2]:
        b = graph.initializers[conv.inputs[2]]
    else:
        b = np.zeros(channels, dtype=w.dtype)
    bn_params = [graph.initializers[n] for n in bn.inputs[1:5]]
    if any(not isinstance(p, np.ndarray) or p.dtype.kind != "f" or p.shape != (channels,)
           for p in [b] + bn_params):
        return None
    eps = bn.attrs.get("epsilon", 1e-5)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not np.isfinite(eps):
        return None
    return w, b, tuple(p.astype(np.float64) for p in bn_params), float(eps)


def _is_inference_bn(bn: Node, x: str, constants: set[str]) -> bool:
    if bn.op_type != "BatchNormalization" or bn.domain or len(bn.inputs) != 5:
        return False
    if bn.inputs[0] != x or not all(n in constants for n in bn.inputs[1:]):
        return False
    if len([o for o in bn.outputs if o]) != 1 or bn.attrs.get("training_mode", 0):
        return False
    # Old opsets: spatial=0 normalises per element, is_test=0 means training.
    return bn.attrs.get("spatial", 1) == 1 and bn.attrs.get("is_test", 1) != 0
