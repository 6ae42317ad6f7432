"""Operator kernels, one module per op family.

Importing a module runs its ``@register`` decorators; this explicit list is
the only place a new module is added (no scanning).
"""

from . import (  # noqa: F401
    activations,
    activations_gated,
    attention,
    attention_flex,
    attention_linear,
    bitcast,
    cast,
    control_flow,
    cumulative,
    conv,
    detection,
    elementwise,
    im2col,
    kv_cache,
    indexing,
    linalg,
    loss,
    ml,
    ml_tree_ensemble,
    ml_trees,
    normalization,
    pool,
    quantize,
    random,
    reduce,
    resize,
    rnn,
    sequence,
    shape,
    shape_build,
    signal,
    text,
    text_vectorize,
    training,
)
