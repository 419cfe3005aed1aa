"""Batched classification certificates and radii in torch (spec clauses F.1, F.2, F.4; T1.4; R1).

In units of P_n, the reference certifies iff (a - b)/P_n > Delta := K/P_n =
1 + rho' - 2 rho_e (clause T1.4), and (a - b)/P_n lies in
[p_A - p_B - 2/P_n, p_A - p_B] for the reference's bounds.  The fast engine
brackets both sides:

* Delta in [Delta_lo, Delta_hi] from the log-ratio tables (clause F.2) and their error bounds;
* (a - b)/P_n in [G_lo, G_hi] from the float CP table (clause F.3), whose entries lie within
  REL_SLACK of the reference's.

It answers "certified" when G_lo > Delta_hi, "not certified" when G_hi <= Delta_lo,
and hands everything in between to the reference engine (clause F.1).  So its
answers equal the reference's.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import InvalidParameterError
from ..reference import certify as ref
from ..threat_model import Budget, Method, Setting, attacked_sizes, budget_ratio, max_radius_multiplier, parse_attacks
from .confidence import lower_entries, upper_entries
from .delta import delta_along, delta_bounds, log_pn_lower
from .single import UNDECIDED, bracket_radius, fits_int64, monotone_brackets


# --------------------------------------------------------------------------- gaps

@dataclass(frozen=True)
class GapBounds:
    """Per input: label A, and [G_lo, G_hi] bracketing the reference's (a - b)/P_n."""

    label: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor


def check_dtype(dtype) -> torch.dtype:
    """The fast engine computes in float64 (default) or float32; its error bounds follow the dtype."""
    if dtype not in (torch.float64, torch.float32):
        raise InvalidParameterError(f"the fast engine supports float64 and float32, got {dtype}")
    return dtype


def unit_roundoff(dtype: torch.dtype) -> float:
    """u = eps/2 of the working dtype (2**-53 for float64, 2**-24 for float32)."""
    return torch.finfo(dtype).eps / 2


def outward(values, dtype: torch.dtype, down: bool, device=None) -> torch.Tensor:
    """Cast float64 values to ``dtype`` rounding towards -inf (down) or +inf: never on the unsafe side."""
    x = torch.as_tensor(np.array(values, dtype=np.float64), dtype=torch.float64, device=device)
    y = x.to(dtype)
    if dtype == torch.float64:
        return y
    yd = y.to(torch.float64)
    toward = torch.full_like(y, -float("inf") if down else float("inf"))
    moved = torch.nextafter(y, toward)
    bad = (yd > x) if down else (yd < x)
    return torch.where(bad & torch.isfinite(x), moved, y)


def check_counts(counts) -> torch.Tensor:
    if not isinstance(counts, (torch.Tensor, np.ndarray)):
        rows = counts if counts and isinstance(counts[0], (list, tuple)) else [counts]
        if not all(fits_int64(row) for row in rows):
            raise InvalidParameterError("vote counts beyond 2**62 do not fit the fast engine: use the reference engine")
    c = torch.as_tensor(counts)
    if c.dtype.is_floating_point or c.dtype == torch.bool or c.is_complex():
        raise InvalidParameterError(f"vote counts must be integers, got dtype {c.dtype}")
    if c.ndim == 1:
        c = c[None]
    if c.ndim != 2 or c.shape[1] < 1:
        raise InvalidParameterError(f"vote counts must have shape (B, C), got {tuple(c.shape)}")
    if c.numel() and int(c.min()) < 0:
        raise InvalidParameterError("vote counts must be non-negative")
    return c.to(torch.int64)


def top_two(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clause V1 per row of ``(B, C)`` counts: (A, N_A, N_B), A the lowest index among the maxima.

    One ``topk(2)`` over the classes (no loop over them, no copy of the counts): its values are the
    two largest order statistics, i.e. N_A and N_B = max_{l != A} N_l (with C = 1, N_B = 0).  Its
    indices are unspecified among equal values, so the rows whose top two are tied (N_A = N_B) take A
    from ``argmax`` (the first maximum); elsewhere the maximum is unique and topk's index is A.
    """
    B, C = counts.shape
    if C == 1:
        n_a = counts[:, 0].clone()
        return torch.zeros_like(n_a), n_a, torch.zeros_like(n_a)
    top = torch.topk(counts, 2, dim=1, largest=True, sorted=True)
    n_a, n_b = top.values[:, 0], top.values[:, 1]
    label = top.indices[:, 0].clone()
    tied = torch.nonzero(n_a == n_b)[:, 0]
    if tied.numel():
        label[tied] = torch.argmax(counts[tied], dim=1)  # the first maximum, as V1
    return label, n_a, n_b


def gap_bounds(
    counts: torch.Tensor, alpha: Fraction, log_pn_lower: float, dtype=torch.float64, bound="bonferroni"
) -> GapBounds:
    """Clause F.3/F.4: [G_lo, G_hi] per input (counts: (B, C) int64 on any device).

    ``bound`` is the bound method (clauses CP.4-CP.7): p_A's float entries are taken at its level_a, the
    per-label upper entries (if it has them) at its level_b, and p_B is bracketed in [p_b_lo, p_b_hi]
    around the reference's exact p_B (1 - p_A rounded outward where the method uses it).  For
    ``bonferroni`` p_b_hi = p_B and p_b_lo = p_B (1 - REL): the same arithmetic as before the seam.
    """
    from ..bounds.rules import bound_rule

    rule = bound_rule(bound)
    device = counts.device
    B, C = counts.shape
    totals = counts.sum(dim=1)
    if B and int(totals.min()) <= 0:
        raise InvalidParameterError("an input has no votes (all counts zero)")
    label, n_a, n_b = top_two(counts)
    level = rule.level_a(alpha, C)
    level_b = rule.level_b(alpha, C) if C > 1 else None
    p_a = torch.empty(B, dtype=dtype, device=device)
    p_b = torch.empty(B, dtype=dtype, device=device)
    rel_a = torch.zeros(B, dtype=dtype, device=device)
    p_b_hi = torch.ones(B, dtype=dtype, device=device)  # >= the reference's exact p_B
    p_b_lo = torch.ones(B, dtype=dtype, device=device)  # <= the reference's exact p_B
    for N in torch.unique(totals).tolist():
        sel = totals == N
        # only the distinct counts this batch needs cross to the host (F.3); cast outward to the dtype
        ua, ia = torch.unique(n_a[sel], return_inverse=True)
        low, rl = lower_entries(int(N), level, ua.cpu().numpy(), with_rel=True)
        p_a[sel] = outward(low, dtype, True, device)[ia]
        rel_a[sel] = outward(rl, dtype, False, device)[ia]
        if C > 1 and level_b is not None:
            ub, ib = torch.unique(n_b[sel], return_inverse=True)
            up, ru = upper_entries(int(N), level_b, ub.cpu().numpy(), with_rel=True)
            p_b_hi[sel] = outward(up, dtype, False, device)[ib]
            p_b_lo[sel] = p_b_hi[sel] * (1 - outward(ru, dtype, False, device)[ib])
    u = unit_roundoff(dtype)
    if C == 1:
        p_b_hi.zero_()
        p_b_lo.zero_()
    elif rule.complement:
        # exact p_A in [p_a, p_a (1 + rel_a)], so 1 - p_A in [1 - p_a (1 + rel_a), 1 - p_a] (+-2u rounding)
        p_b_hi = torch.minimum(p_b_hi, 1 - p_a + 2 * u)
        p_b_lo = torch.minimum(p_b_lo, 1 - p_a * (1 + rel_a) - 2 * u)
    p_b = p_b_hi
    two_over_pn = 2.0 * float(np.exp(-log_pn_lower)) if log_pn_lower < 700 else 0.0
    # in the working dtype: the cast of the table moved each bound by <= 2u (outward), the arithmetic
    # below adds <= 4u absolute (bounds lie in [0, 1]); each entry's own rel (F.3) grows by 4u for the casts
    lo = p_a - p_b - two_over_pn - 8 * u
    hi = p_a * (1 + rel_a + 4 * u) - p_b_lo * (1 - 4 * u) + 8 * u
    return GapBounds(label, lo, hi)


# --------------------------------------------------------------------------- public

@dataclass(frozen=True)
class FastDecisions:
    """Decisions for B inputs x R budgets, and how many were handed to the reference."""

    label: torch.Tensor  # (B,)
    certified: torch.Tensor  # (B, R) bool
    deferred: int


def certify_batch(
    counts,
    alpha,
    n: Sequence[int],
    k: Sequence[int],
    budgets: Sequence[Sequence[int]],
    attack="modify",
    method="mmcert",
    dtype=torch.float64,
    reference: Callable[[int, int], bool] | None = None,
    bound="bonferroni",
) -> FastDecisions:
    """Clause F.1: Theorem 1 decisions for every (input, budget) pair, equal to the reference's.

    ``counts``: (B, C) integer tensor on any device; ``budgets``: (R, T).  ``reference(b, j)``, when
    given, answers a deferred pair (a caller that already holds the exact result passes it, so
    nothing is computed twice); by default the reference engine is called.
    """
    alpha = ref.alpha_fraction(alpha)
    setting = Setting(tuple(n), tuple(k), Method(method))
    attacks = parse_attacks(attack, setting.modalities)
    bud = np.asarray(budgets, dtype=np.int64).reshape(-1, setting.modalities)
    for row in bud:  # validate every budget exactly as the reference does
        attacked_sizes(setting, Budget(tuple(int(x) for x in row), attacks))
    c = check_counts(counts)
    d = delta_bounds(setting, bud, attacks)
    dtype = check_dtype(dtype)
    g = gap_bounds(c, alpha, log_pn_lower(setting), dtype, bound)
    dlo = outward(d.lo, dtype, True, c.device)
    dhi = outward(d.hi, dtype, False, c.device)
    yes = g.lo[:, None] > dhi[None, :]
    no = g.hi[:, None] <= dlo[None, :]
    unsure = ~(yes | no)
    certified = yes.clone()
    idx = torch.nonzero(unsure).tolist() if bool(unsure.any()) else []
    for b, j in idx:
        if reference is not None:
            certified[b, j] = bool(reference(b, j))
        else:
            res = ref.certify(c[b].tolist(), alpha, setting.n, setting.k, bud[j].tolist(), attacks, setting.method,
                              bound)
            certified[b, j] = res.certified
    return FastDecisions(g.label, certified, len(idx))


@dataclass(frozen=True)
class FastRadii:
    """Radii (-1 where not certified even at t = 0) and the number handed to the reference."""

    label: torch.Tensor
    radius: torch.Tensor  # (B,) int64, -1 = None
    deferred: int


def radius_batch(counts, alpha, n: Sequence[int], k: Sequence[int], ratio: Sequence[int], attack="modify",
                 method="mmcert", dtype=torch.float64, bound="bonferroni") -> FastRadii:
    """Clause R1 batched: the largest t with r = t*ratio certified, per input; equals the reference's."""
    alpha = ref.alpha_fraction(alpha)
    setting = Setting(tuple(n), tuple(k), Method(method))
    ratio = budget_ratio(ratio, setting.modalities)
    attacks = parse_attacks(attack, setting.modalities)
    limit = max_radius_multiplier(setting, ratio, attacks)
    c = check_counts(counts)
    dtype = check_dtype(dtype)
    d = delta_along(setting, ratio, attacks, limit)
    g = gap_bounds(c, alpha, log_pn_lower(setting), dtype, bound)
    if d is None:  # outside the float range of F.2: the reference decides every input
        radius = torch.full_like(g.label, -1)
        unsure = torch.ones_like(g.label, dtype=torch.bool)
    else:
        hi_mono = outward(np.maximum.accumulate(d.hi), dtype, False, c.device)
        lo_mono = outward(np.maximum.accumulate(d.lo), dtype, True, c.device)
        # t_sure: every t <= t_sure is surely certified; t_no: surely not certified from t_no on
        t_sure = torch.searchsorted(hi_mono, g.lo.contiguous(), right=False) - 1
        t_no = torch.searchsorted(lo_mono, g.hi.contiguous(), right=False)
        # lo_mono is a valid lower bound on Delta(t) because Delta is monotone in t (T1.5)
        radius = t_sure.clone()
        unsure = t_no != t_sure + 1
    idx = torch.nonzero(unsure)[:, 0].tolist() if bool(unsure.any()) else []
    for b in idx:
        res = ref.radius(c[b].tolist(), alpha, setting.n, setting.k, ratio, attacks, setting.method, bound)
        radius[b] = -1 if res.radius is None else res.radius
    return FastRadii(g.label, radius.to(torch.int64), len(idx))


# --------------------------------------------------------------------------- one run's budgets and ratios

class RunBrackets:
    """Clauses F.1, F.4 and R1 for every input of a run: the Delta brackets of its budgets and of its ratios'
    budget sequences are built once; per input, one gap bracket [G_lo, G_hi] decides what it can.

    :meth:`decide` makes exactly :func:`certify_batch`'s decisions (certified when G_lo > Delta_hi, not when
    G_hi <= Delta_lo) and :func:`radius_batch`'s radii (t_sure / t_no from the monotone brackets), and
    returns None / :data:`UNDECIDED` where those would defer to the reference; so every answer it gives
    equals the reference engine's (clause F.1).  The budgets share one attack per modality (a run's do).
    """

    def __init__(self, setting: Setting, budgets: Sequence[Sequence[int]], attacks, ratios: Sequence[Sequence[int]],
                 limits: Sequence[int | None], alpha, bound="bonferroni") -> None:
        self.alpha = ref.alpha_fraction(alpha)
        self.bound = bound
        self.attacks = parse_attacks(attacks, setting.modalities)
        bud = np.asarray(budgets, dtype=np.int64).reshape(-1, setting.modalities)
        d = delta_bounds(setting, bud, self.attacks)
        self.dlo, self.dhi = d.lo.tolist(), d.hi.tolist()
        self.along: list[tuple[np.ndarray, np.ndarray] | None] = []
        for ratio, limit in zip(ratios, limits):
            a = delta_along(setting, budget_ratio(ratio, setting.modalities), self.attacks, limit)
            self.along.append(None if a is None else monotone_brackets(a))
        self.log_pn = log_pn_lower(setting)

    def decide(self, counts: Sequence[int]) -> tuple[tuple[bool | None, ...], tuple]:
        """(certified per budget or None, radius per ratio: t, None (not certified at t = 0) or UNDECIDED)."""
        if not fits_int64(counts):
            return (None,) * len(self.dlo), (UNDECIDED,) * len(self.along)
        g = gap_bounds(check_counts([list(counts)]), self.alpha, self.log_pn, torch.float64, self.bound)
        lo, hi = float(g.lo[0]), float(g.hi[0])
        certified = tuple(True if lo > dh else False if hi <= dl else None for dl, dh in zip(self.dlo, self.dhi))
        radii = tuple(UNDECIDED if along is None else bracket_radius(along, lo, hi)  # None: outside F.2's range
                      for along in self.along)
        return certified, radii
