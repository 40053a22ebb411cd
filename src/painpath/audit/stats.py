"""Proportions with a 95% Wilson score interval."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / total`` (``None`` when ``total`` is 0).

    Unlike the normal approximation it stays inside [0, 1] and behaves at 0% and 100%
    (Wilson 1927; Brown, Cai and DasGupta 2001 recommend it for small and extreme proportions).
    """
    if total <= 0:
        return None
    if not 0 <= successes <= total:
        raise ValueError(f"successes {successes} must be between 0 and total {total}")
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(
    successes1: int, total1: int, successes2: int, total2: int, z: float = Z_95
) -> tuple[float, float, float] | None:
    """The difference ``p1 - p2`` of two independent proportions with its 95% interval.

    Newcombe's hybrid score interval (Newcombe 1998, method 10): built from each proportion's
    Wilson interval, it stays inside [-1, 1] and keeps its coverage near 95% for small samples
    and extreme proportions, where the simple Wald interval does not. ``None`` if a total is 0.
    """
    ci1 = wilson_interval(successes1, total1, z)
    ci2 = wilson_interval(successes2, total2, z)
    if ci1 is None or ci2 is None:
        return None
    p1, p2 = successes1 / total1, successes2 / total2
    (l1, u1), (l2, u2) = ci1, ci2
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, low), min(1.0, high)
