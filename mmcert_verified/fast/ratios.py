"""Binomial ratios of Theorem 1 in float64 with error bounds (spec clause F.2, F.4).

For one sub-sampled list with n elements of which k are kept:

    shrink(r) = log C(n - r, k) / C(n, k) = sum_{j<r} log((n - j - k)/(n - j))
    grow(r)   = log C(n + r, k) / C(n, k) = sum_{j=1..r} -log((n + j - k)/(n + j))

Each term is computed as log1p(-x) with x = k/(n - j) (or k/(n + j)) when
x <= 1/2, else as a difference of logs of exact integers; its absolute error
is at most 4u|term| (+ 4u log(n + r) in the second form), u = 2**-53.  The
cumulative sum of m same-signed terms adds at most m u |sum|.  Tables are
built once per (n, k, length) and reused across inputs and budgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

U = 2.0**-53
#: F.2's range: every integer n -/+ j the tables touch must be below this (exact in float64)
FLOAT_EXACT_MAX = 2**53
#: longest ratio table the fast engine builds (entries); longer budgets go to the reference (issue 10, item 9)
TABLE_MAX = 1 << 22


@dataclass(frozen=True)
class LogRatioTable:
    """values[r] = log ratio for r = 0..len-1 (-inf where the ratio is 0); err[r] bounds |error|."""

    values: np.ndarray
    err: np.ndarray


def _terms(n: int, k: int, r: int, grow: bool) -> tuple[np.ndarray, np.ndarray]:
    j = np.arange(r, dtype=np.float64)
    if grow:
        big = n + 1 + j  # n + j for j = 1..r
    else:
        big = n - j
    small = big - k  # n - j - k  or  n + j - k
    with np.errstate(divide="ignore", invalid="ignore"):
        x = k / big
        t1 = np.log1p(-x)
        t2 = np.log(small) - np.log(big)
        term = np.where(x <= 0.5, t1, t2)
        err = 4 * U * np.abs(term) + np.where(x <= 0.5, 0.0, 4 * U * np.log(np.maximum(big, 2.0)))
    term = np.where(small <= 0, -np.inf, term)
    err = np.where(small <= 0, 0.0, err)
    if grow:
        term = -term
    return term, err


@lru_cache(maxsize=16)  # bounded: at most 16 tables of <= TABLE_MAX entries
def log_ratio_table(n: int, k: int, length: int, grow: bool) -> LogRatioTable:
    """Clause F.2: shrink (grow=False) or grow ratios for r = 0..length-1."""
    term, err = _terms(n, k, length - 1, grow)
    values = np.concatenate([[0.0], np.cumsum(term)])
    m = np.arange(length, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        total_err = np.concatenate([[0.0], np.cumsum(err)]) * (1 + 1e-10) + m * U * np.abs(values)
    total_err = np.where(np.isfinite(values), total_err, 0.0)
    values.setflags(write=False)
    total_err.setflags(write=False)
    return LogRatioTable(values, total_err)


def log_comb_lower(n: np.ndarray, k: np.ndarray) -> float:
    """A rigorous lower bound on log prod C(n_i, k_i) (ball arithmetic, python-flint ``arb``).

    lgamma differences in float64 cancel catastrophically at large n (3.1e-8 over the true value at
    n ~ 9e6, 155 over at n ~ 9e15: issue 17), so the value is enclosed in an arb ball at 128 bits and
    its lower end rounded down to float64 (clause F.4's 2/P_n term needs log P_n from below).
    """
    from flint import arb, ctx

    saved = ctx.prec
    try:
        ctx.prec = 128
        total = arb(0)
        for ni, ki in zip(np.asarray(n).reshape(-1).tolist(), np.asarray(k).reshape(-1).tolist()):
            ni, ki = int(ni), int(ki)
            total += arb(ni + 1).lgamma() - arb(ki + 1).lgamma() - arb(ni - ki + 1).lgamma()
        # float() of the exact lower end rounds to nearest (error <= half an ulp): one ulp down is below it
        return float(np.nextafter(float(total.lower()), -np.inf))
    finally:
        ctx.prec = saved
