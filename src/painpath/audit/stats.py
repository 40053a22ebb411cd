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
