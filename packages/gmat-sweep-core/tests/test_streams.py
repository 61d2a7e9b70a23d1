"""The chunked streams equal numpy's own per-run SeedSequence/PCG64 values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from gmat_sweep import streams
from gmat_sweep.distributions import _draws, _numpy_draw, _uniform_rows, parameter_key

SEEDS = [0, 1, 2026, 2**32 - 1, 2**32, 2**64 + 5, 2**127, 2**130 + 7]
KEYS = [0, 1, parameter_key("Sat.SMA"), 2**32 - 1]


def _numpy_rows(seed: int, a: int, b: int, key: int, k: int) -> np.ndarray:
    return np.array(
        [
            np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(i, key))).random(
                k
            )
            for i in range(a, b)
        ]
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("key", KEYS)
def test_uniforms_equal_numpy_bit_for_bit(seed: int, key: int) -> None:
    fast = streams._fast_uniforms(seed, 0, 257, key, 5)
    assert fast.dtype == np.float64 and fast.shape == (257, 5)
    assert np.array_equal(fast, _numpy_rows(seed, 0, 257, key, 5))


@pytest.mark.parametrize("seed", SEEDS)
def test_run_seeds_equal_numpy_bit_for_bit(seed: int) -> None:
    fast = streams._fast_seeds(seed, 0, 257)
    slow = [_numpy_draw(seed, i, None) for i in range(257)]
    assert fast.dtype == np.uint64 and fast.tolist() == slow


def test_a_chunk_anywhere_in_the_sweep_gives_the_same_runs() -> None:
    # Runs far into a sweep, and across the 2**16 and 2**24 word boundaries of run ids.
    for a in (65_530, 16_777_210, 4_000_000_000):
        key = parameter_key("Burn.Element1")
        assert np.array_equal(streams._fast_uniforms(7, a, a + 12, key, 2),
                              _numpy_rows(7, a, a + 12, key, 2))  # fmt: skip
        assert streams._fast_seeds(7, a, a + 12).tolist() == [
            _numpy_draw(7, i, None) for i in range(a, a + 12)
        ]


def test_the_designs_draws_use_it_and_still_match_the_contract() -> None:
    key = parameter_key("Sat.INC")
    assert _draws(11, 3, 40, key).tolist() == [_numpy_draw(11, i, key) for i in range(3, 40)]
    assert _draws(11, 3, 40, None).tolist() == [_numpy_draw(11, i, None) for i in range(3, 40)]
    assert np.array_equal(_uniform_rows(11, 3, 40, key, 3), _numpy_rows(11, 3, 40, key, 3))


def test_run_ids_past_32_bits_take_numpy_own_path() -> None:
    a = 2**32 - 2  # the chunk reaches run 2**32, whose id is two words: numpy's path
    key = parameter_key("Sat.SMA")
    assert np.array_equal(
        streams.run_uniforms(3, a, a + 4, key, 2), _numpy_rows(3, a, a + 4, key, 2)
    )


def test_a_numpy_that_disagrees_sends_every_draw_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The self-check is what protects the seed contract if numpy's streams ever change:
    # make the fast path wrong and check that it is then never used.
    monkeypatch.setattr(streams, "_checked", {})
    monkeypatch.setattr(streams, "_PCG_MULT_LO", streams._PCG_MULT_LO + 2)
    key = parameter_key("Sat.SMA")
    assert not np.array_equal(streams._fast_uniforms(5, 0, 8, key, 1), _numpy_rows(5, 0, 8, key, 1))
    assert np.array_equal(streams.run_uniforms(5, 0, 8, key, 1), _numpy_rows(5, 0, 8, key, 1))
    assert streams._checked == {"uniforms": False}


def test_a_negative_seed_is_refused_as_numpy_refuses_it() -> None:
    with pytest.raises(ValueError, match="non-negative integer, got -1"):
        streams._fast_uniforms(-1, 0, 3, 5, 1)
    with pytest.raises(ValueError):
        np.random.SeedSequence(entropy=-1)
