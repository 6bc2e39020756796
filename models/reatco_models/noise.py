"""A portable, counter-based Gaussian generator: the same (seed, stream, index) gives the same float32
in NumPy and in the TypeScript engine (helper-service/src/engine/random.ts), so the oracle and the
engine draw identical IRJS noise and one seed fixes every random draw.

u32 counters are mixed by two rounds of "lowbias32" (C. Wellons' integer hash); two uniforms per
value feed Box-Muller (cosine branch) in float64; the result is rounded to float32.
"""

from __future__ import annotations

import numpy as np

_M = np.uint64(0xFFFFFFFF)


def mix32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64) & _M
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & _M
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & _M
    x ^= x >> np.uint64(16)
    return x


def _keys(seed: int, stream: int) -> tuple[np.uint64, np.uint64]:
    k1 = mix32(np.array([seed & 0xFFFFFFFF], dtype=np.uint64))[0]
    k2 = mix32(np.array([(stream * 0x9E3779B9 + 0x6A09E667) & 0xFFFFFFFF], dtype=np.uint64) ^ k1)[0]
    return k1, k2


def uniform_u32(seed: int, stream: int, counters: np.ndarray) -> np.ndarray:
    k1, k2 = _keys(seed, stream)
    return mix32(mix32(counters.astype(np.uint64) ^ k1) ^ k2)


def normal(seed: int, stream: int, count: int) -> np.ndarray:
    """`count` standard normal float32 values of one stream."""
    i = np.arange(count, dtype=np.uint64)
    a = uniform_u32(seed, stream, (2 * i) & _M).astype(np.float64)
    b = uniform_u32(seed, stream, (2 * i + 1) & _M).astype(np.float64)
    u1 = (a + 1.0) / 4294967296.0  # (0, 1]: log is finite
    u2 = b / 4294967296.0
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32)


def irjs_stream(step_index: int) -> int:
    """The stream of the IRJS noise drawn at denoising step `step_index` (one draw for the whole clip)."""
    return 1 + step_index
