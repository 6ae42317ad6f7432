"""random kernels."""

from __future__ import annotations

import numpy as np

from ..registry import register
