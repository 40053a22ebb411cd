"""The 95% Wilson score interval against published values."""

from __future__ import annotations

import pytest

from painpath.audit.stats import newcombe_difference, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson without correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # symmetric and extreme cases
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_known_values(k: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(k, n)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=1e-4)
    assert interval[1] == pytest.approx(high, abs=1e-4)


def test_no_denominator_has_no_interval() -> None:
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="between 0 and total"):
        wilson_interval(3, 2)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10 (hybrid score, no correction)
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ],
)
def test_newcombe_difference_matches_published_values(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    a, m, b, n = counts
    low, high = expected
    result = newcombe_difference(a, m, b, n)
    assert result is not None
    d, lo, hi = result
    assert d == pytest.approx(a / m - b / n)
    assert (lo, hi) == pytest.approx((low, high), abs=1e-4)


def test_newcombe_difference_needs_both_denominators() -> None:
    assert newcombe_difference(1, 2, 0, 0) is None
