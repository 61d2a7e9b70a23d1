"""numpy's per-run streams, computed for many runs at once, bit for bit.

The seed contract (:mod:`gmat_sweep.distributions`) defines run ``i``'s values of the
stream with key ``k`` as ``numpy.random.default_rng(SeedSequence(entropy=seed,
spawn_key=(i, k)))`` and run ``i``'s seed as the first two 32-bit words of
``SeedSequence(entropy=seed, spawn_key=(i,)).generate_state``. Building one SeedSequence
and one PCG64 per run costs about 15-30 microseconds, several times what the rest of the
driver spends on a run. This module computes the same numbers as numpy arrays over a
whole chunk of runs: numpy's SeedSequence hash (O'Neill's ``seed_seq``, pool of four
32-bit words) and PCG64 (128-bit LCG, XSL-RR output), as numpy documents and implements
them, in 32- and 64-bit numpy integer arithmetic.

What is guaranteed: every value equals numpy's own, bit for bit. Before its first use in
a process each function checks a few values against numpy itself; if numpy's streams ever
differ from this code (or an input lies outside what it handles: run ids of 2**32 and
more), numpy's own per-run path is used instead. Both are checked in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["run_seeds", "run_uniforms"]

_MASK32 = 0xFFFFFFFF
_POOL = 4
# numpy's SeedSequence constants (from O'Neill's seed_seq_fe).
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
# PCG64's 128-bit multiplier, as two 64-bit halves.
_PCG_MULT_HI, _PCG_MULT_LO = 2549297995355413924, 4865540595714422341
_checked: dict[str, bool] = {}


def _words(n: int) -> list[int]:
    """numpy's 32-bit words of a non-negative int (least significant first; 0 is [0]).

    Raises:
        ValueError: ``n`` is negative (numpy's SeedSequence refuses it too).
    """
    if n < 0:
        raise ValueError(f"a seed, run id or key must be a non-negative integer, got {n}")
    words = [n & _MASK32]
    n >>= 32
    while n:
        words.append(n & _MASK32)
        n >>= 32
    return words


class _Hash:
    """The running hash constant of one SeedSequence phase (the same for every run)."""

    def __init__(self, init: int, mult: int) -> None:
        self.value, self.mult = init, mult


def _mix(x: Any, y: Any) -> Any:
    result = (x * _MIX_L - y * _MIX_R) & _MASK32
    return result ^ (result >> 16)


def _pools(seed: int, run_ids: npt.NDArray[np.uint64], key: int | None) -> list[Any]:
    """Each run's SeedSequence pool (four uint64 arrays holding 32-bit words)."""
    import numpy as np

    entropy = _words(seed)
    entropy += [0] * (_POOL - len(entropy))  # padded before a spawn key, as numpy does
    fixed = entropy[:_POOL]
    tail: list[Any] = [int(w) for w in entropy[_POOL:]]
    tail.append(run_ids.astype(np.uint64) & _MASK32)
    if key is not None:
        tail.extend(_words(key))
    const = _Hash(_INIT_A, _MULT_A)
    # The first phase depends on the seed only: plain ints, the same for every run.
    mixer: list[Any] = []
    for word in fixed:
        mixer.append(_hashmix_step(word, const))
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                mixer[dst] = _mix(mixer[dst], _hashmix_step(mixer[src], const))
    pool: list[Any] = [np.full(len(run_ids), m, dtype=np.uint64) for m in mixer]
    for word in tail:
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], _hashmix_step(word, const))
    return pool


def _hashmix_step(value: Any, const: _Hash) -> Any:
    """numpy's hashmix: xor with the constant, advance it, multiply by the new one."""
    value = value ^ const.value
    const.value = (const.value * const.mult) & _MASK32
    value = (value * const.value) & _MASK32
    return value ^ (value >> 16)


def _state_words(pool: list[Any], n_words: int) -> list[Any]:
    """``generate_state(n_words, uint32)`` of each run, as uint64 arrays of 32-bit words."""
    const = _Hash(_INIT_B, _MULT_B)
    out = []
    for i in range(n_words):
        value = pool[i % _POOL] ^ const.value
        const.value = (const.value * const.mult) & _MASK32
        value = (value * const.value) & _MASK32
        out.append(value ^ (value >> 16))
    return out


def _mulhi64(a: Any, b: int) -> Any:
    """High 64 bits of the 128-bit product of uint64 array ``a`` and constant ``b``."""
    import numpy as np

    m32 = np.uint64(_MASK32)
    a0, a1 = a & m32, a >> np.uint64(32)
    b0, b1 = np.uint64(b & _MASK32), np.uint64(b >> 32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> np.uint64(32)) + (p01 & m32) + (p10 & m32)
    return p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))


def _step(hi: Any, lo: Any, inc_hi: Any, inc_lo: Any) -> tuple[Any, Any]:
    """One PCG64 step: state * multiplier + increment (mod 2**128)."""
    import numpy as np

    mult_lo, mult_hi = np.uint64(_PCG_MULT_LO), np.uint64(_PCG_MULT_HI)
    new_hi = _mulhi64(lo, _PCG_MULT_LO) + hi * mult_lo + lo * mult_hi
    new_lo = lo * mult_lo
    out_lo = new_lo + inc_lo
    carry = (out_lo < new_lo).astype(np.uint64)
    return new_hi + inc_hi + carry, out_lo


def _fast_uniforms(seed: int, a: int, b: int, key: int, k: int) -> npt.NDArray[np.float64]:
    import numpy as np

    pool = _pools(seed, np.arange(a, b, dtype=np.uint64), key)
    w = [x.astype(np.uint64) for x in _state_words(pool, 8)]
    shift = np.uint64(32)
    # generate_state(4, uint64) is little-endian word pairs; PCG64 reads them as
    # (seed high, seed low, increment high, increment low).
    s_hi, s_lo = w[0] | (w[1] << shift), w[2] | (w[3] << shift)
    q_hi, q_lo = w[4] | (w[5] << shift), w[6] | (w[7] << shift)
    inc_hi = (q_hi << np.uint64(1)) | (q_lo >> np.uint64(63))
    inc_lo = (q_lo << np.uint64(1)) | np.uint64(1)
    zero = np.zeros(len(s_hi), dtype=np.uint64)
    hi, lo = _step(zero, zero, inc_hi, inc_lo)
    lo2 = lo + s_lo
    hi = hi + s_hi + (lo2 < lo).astype(np.uint64)
    hi, lo = _step(hi, lo2, inc_hi, inc_lo)
    rows = np.empty((b - a, k), dtype=np.float64)
    for j in range(k):
        hi, lo = _step(hi, lo, inc_hi, inc_lo)
        rot = hi >> np.uint64(58)
        x = hi ^ lo
        out = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))
        rows[:, j] = (out >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return rows


def _fast_seeds(seed: int, a: int, b: int) -> npt.NDArray[np.uint64]:
    import numpy as np

    pool = _pools(seed, np.arange(a, b, dtype=np.uint64), None)
    low, high = _state_words(pool, 2)
    result: npt.NDArray[np.uint64] = low.astype(np.uint64) | (high.astype(np.uint64) << 32)
    return result


def _numpy_uniforms(seed: int, a: int, b: int, key: int, k: int) -> npt.NDArray[np.float64]:
    import numpy as np

    rows = np.empty((b - a, k), dtype=np.float64)
    for j, i in enumerate(range(a, b)):
        ss = np.random.SeedSequence(entropy=seed, spawn_key=(i, key))
        rows[j] = np.random.default_rng(ss).random(k)
    return rows


def _numpy_seeds(seed: int, a: int, b: int) -> npt.NDArray[np.uint64]:
    import numpy as np

    values = []
    for i in range(a, b):
        words = np.random.SeedSequence(entropy=seed, spawn_key=(i,)).generate_state(2, np.uint32)
        values.append(int(words[0]) | int(words[1]) << 32)
    return np.array(values, dtype=np.uint64)


# Inputs the self-check compares: small and large seeds, run 0, a 32-bit key of 0 and max.
_PROBES = ((0, 0, 3, 0), (2026, 5, 9, 0xFFFFFFFF), (2**70 + 12345, 1000, 1003, 0x1234ABCD))


def _fast_path_ok(kind: str) -> bool:
    """Whether this process's numpy agrees with the fast path (checked once per kind)."""
    if kind not in _checked:
        import numpy as np

        ok = True
        for seed, a, b, key in _PROBES:
            if kind == "seeds":
                ok &= bool(np.array_equal(_fast_seeds(seed, a, b), _numpy_seeds(seed, a, b)))
            else:
                fast, slow = _fast_uniforms(seed, a, b, key, 3), _numpy_uniforms(seed, a, b, key, 3)
                ok &= bool(np.array_equal(fast, slow))
        _checked[kind] = ok
    return _checked[kind]


def run_uniforms(seed: int, a: int, b: int, key: int, k: int = 1) -> npt.NDArray[np.float64]:
    """Runs ``a..b-1`` of the stream ``key``: the first ``k`` ``random()`` of each run's
    generator, one row per run, exactly as numpy draws them.

    ``seed`` is a non-negative int, ``key`` a 32-bit one, ``0 <= a <= b``.
    """
    if b > 2**32 or not _fast_path_ok("uniforms"):
        return _numpy_uniforms(seed, a, b, key, k)
    return _fast_uniforms(seed, a, b, key, k)


def run_seeds(seed: int, a: int, b: int) -> npt.NDArray[np.uint64]:
    """Runs ``a..b-1``'s seeds (64 bits from each run's SeedSequence), exactly as numpy."""
    if b > 2**32 or not _fast_path_ok("seeds"):
        return _numpy_seeds(seed, a, b)
    return _fast_seeds(seed, a, b)
