"""Operator kernels, one module per op family.

Importing a module runs its ``@register`` decorators; this explicit list is
the only place a new module is added (no scanning).
"""

from . import (  # noqa: F401
    activations,
    attention,
    bitcast,
    cast,
    control_flow,
    cumulative,
    conv,
    detection,
    elementwise,
    im2col,
    indexing,
    linalg,
    loss,
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
)
