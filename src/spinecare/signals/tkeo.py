"""Teager-Kaiser energy operator, causal form.

psi[n] = x[n]^2 - x[n-1] * x[n+1] needs one sample of look-ahead, so the streaming form emits
psi[n-1] when x[n] arrives: a fixed one-sample (1 ms at 1 kHz) delay. The last two inputs carry
across blocks, so block-wise output equals the whole-signal output. TKEO conditioning for EMG
onset detection: [li2007], [solnik2010].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def tkeo(x: npt.ArrayLike) -> FloatArray:
    """Offline TKEO, same length as ``x`` (the two end samples use zero padding)."""
    v = np.asarray(x, dtype=np.float64)
    p = np.concatenate(([0.0], v, [0.0]))
    return np.asarray(p[1:-1] ** 2 - p[:-2] * p[2:], dtype=np.float64)


class CausalTkeo:
    """Streaming TKEO with a one-sample delay; output[k] is psi at input index k - 1.

    Before any input the previous samples are zero, so output[0] = 0 (psi[-1] of a zero past).
    """

    def __init__(self) -> None:
        self._x1 = 0.0  # x[n-1]
        self._x2 = 0.0  # x[n-2]

    def reset(self) -> None:
        self._x1 = 0.0
        self._x2 = 0.0

    def process(self, block: npt.ArrayLike) -> FloatArray:
        x = np.asarray(block, dtype=np.float64)
        prev = np.concatenate(([self._x2, self._x1], x))
        # psi[n-1] = x[n-1]^2 - x[n-2] * x[n]
        out = prev[1:-1] ** 2 - prev[:-2] * prev[2:]
        if x.size >= 2:
            self._x2, self._x1 = float(x[-2]), float(x[-1])
        elif x.size == 1:
            self._x2, self._x1 = self._x1, float(x[0])
        return np.asarray(out, dtype=np.float64)
