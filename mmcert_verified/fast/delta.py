"""Bounds on Theorem 1's threshold Delta = K / P_n in float64, without torch (spec clauses F.2, F.4).

Shared by the batched torch engine (:mod:`.classify`, :mod:`.segmentation`) and the single-input
path (:mod:`.single`).  Every bracket [Delta_lo, Delta_hi] contains the exact rational K / P_n; outside
F.2's float range (n + r >= 2**53, or a table longer than TABLE_MAX) the bracket is [-inf, +inf]
("undecidable": the caller hands the budget to the reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..threat_model import Attack, Setting
from .ratios import FLOAT_EXACT_MAX, TABLE_MAX, U, log_comb_lower, log_ratio_table


@dataclass(frozen=True)
class DeltaBounds:
    """Bounds on Delta = K / P_n per budget (inf where the budget cannot be certified)."""

    lo: np.ndarray
    hi: np.ndarray


def sampled_lists(setting: Setting):
    """(n, k) of each sub-sampled list: one per modality, or the pooled one."""
    return setting.method.scheme.lists(setting.n, setting.k)


def float_exact(setting: Setting, budgets: np.ndarray) -> bool:
    """F.2's range: every n - j, n + j the ratio tables touch is an integer exact in float64, and no
    table is longer than TABLE_MAX (a budget of 10**12 would otherwise allocate terabytes)."""
    b = np.asarray(budgets)
    longest = int(b.sum(axis=1).max()) if b.size else 0
    return sum(setting.n) + longest + 1 < FLOAT_EXACT_MAX and longest < TABLE_MAX


def delta_bounds(setting: Setting, budgets: np.ndarray, attacks: Sequence[Attack]) -> DeltaBounds:
    """Clause F.2/F.4: [Delta_lo, Delta_hi] for each row of ``budgets`` (shape (R, T))."""
    budgets = np.asarray(budgets, dtype=np.int64)
    R = budgets.shape[0]
    if not float_exact(setting, budgets):
        # F.2's error model needs n + r exact in float64: undecidable here, every row goes to the reference
        return DeltaBounds(np.full(R, -np.inf), np.full(R, np.inf))
    log_e = np.zeros(R)
    log_p = np.zeros(R)
    err_e = np.zeros(R)
    err_p = np.zeros(R)
    invalid = np.zeros(R, dtype=bool)

    def add(dst, dst_err, n, k, r, grow):
        tab = log_ratio_table(int(n), int(k), int(r.max()) + 1, bool(grow))
        dst += tab.values[r]
        dst_err += tab.err[r]

    # one pass per sub-sampled list (its modalities: one each for MMCert, all for the pooled baseline, S4);
    # each attack contributes loss * r lost originals and growth * r to the list's length (S3, threat/attacks.py)
    members = setting.method.scheme.sampled([[i] for i in range(setting.modalities)])
    for (n, k), modalities in zip(sampled_lists(setting), members):
        lost = np.zeros(R, dtype=np.int64)
        change = np.zeros(R, dtype=np.int64)
        for i in modalities:
            rule, r = attacks[i].rule, budgets[:, i]
            if rule.removes:
                invalid |= r > setting.n[i]
            lost += rule.loss * r
            change += rule.growth * r
        invalid |= lost > n
        if (lost > 0).any():
            add(log_e, err_e, n, k, np.minimum(lost, n), False)
        if (change > 0).any():
            add(log_p, err_p, n, k, np.maximum(change, 0), True)
        if (change < 0).any():
            d = np.minimum(np.maximum(-change, 0), n)
            add(log_p, err_p, n, k, d, False)
            invalid |= (n - d) < k
    with np.errstate(over="ignore", invalid="ignore"):
        re_lo = np.exp(log_e - err_e) * (1 - 2 * U)
        re_hi = np.exp(log_e + err_e) * (1 + 2 * U)
        rp_lo = np.exp(log_p - err_p) * (1 - 2 * U)
        rp_hi = np.exp(log_p + err_p) * (1 + 2 * U)
        slack = 8 * U * (1 + rp_hi + 2 * re_hi)
        lo = 1 + rp_lo - 2 * re_hi - slack
        hi = 1 + rp_hi - 2 * re_lo + slack
    bad = invalid | ~np.isfinite(lo) | ~np.isfinite(hi)
    lo = np.where(bad, np.inf, lo)
    hi = np.where(bad, np.inf, hi)
    return DeltaBounds(lo, hi)


def log_pn_lower(setting: Setting) -> float:
    """A rigorous lower bound on log P_n for the setting's sub-sampled lists (F.4's 2/P_n term)."""
    lists = sampled_lists(setting)
    return log_comb_lower(np.array([n for n, _ in lists]), np.array([k for _, k in lists]))


def delta_along(setting: Setting, ratio: tuple[int, ...], attacks, limit: int | None) -> DeltaBounds | None:
    """Delta bounds for t = 0, 1, ... until certification is impossible (Delta_lo > 1 + 1e-3) or the cap.

    None when the budgets leave F.2's float range (every input then goes to the reference).
    """
    length = 64
    while True:
        T = length if limit is None else min(length, limit + 1)
        t = np.arange(T, dtype=np.int64)
        d = delta_bounds(setting, t[:, None] * np.asarray(ratio, dtype=np.int64)[None, :], attacks)
        if bool(np.isneginf(d.lo).any()):
            return None
        done = (limit is not None and T == limit + 1) or d.lo[-1] > 1 + 1e-3
        if done:
            if limit is not None and T == limit + 1:  # t = limit + 1 is impossible: append +inf
                d = DeltaBounds(np.append(d.lo, np.inf), np.append(d.hi, np.inf))
            return d
        length *= 4
        if length * max(ratio) >= TABLE_MAX:  # longer tables are not built: the reference searches
            return None
