"""Certified segmentation in torch, batched over pixels and images (spec clauses F.5, SEG.1-SEG.7).

The per-pixel work stays on the votes' device: argmax, top-two counts, the
distinct (N_A, N_B) pairs (torch.unique), the certified mask and the stable
confusion matrix.  Only the distinct pairs (at most (N+1)(N+2)/2, typically a
few hundred) and C x C confusion counts cross to the host.

alpha* per pair is the reference's grid value (clause SEG.2), found in float64
and confirmed with error-bounded decisions (clause F.5): the pair is surely
certified at grid level g and surely not at g - 1; any pair whose float
decisions are inside their error bounds is computed by the reference engine.
Results are cached per (N, C, alpha, setting, budget), so a batch of images
with the same setting pays for each pair once.  The certified masks and
metrics equal the reference engine's.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from fractions import Fraction
from typing import Sequence

import numpy as np
import torch

from ..errors import InvalidParameterError
from ..reference import segmentation as ref
from .confidence import level_float_down, lower_bounds, upper_bounds
from .delta import delta_bounds, log_pn_lower
from .ratios import U

#: alpha* cache: problem key -> {(N_A, N_B): Fraction}, least recently used problems evicted first
_CACHE: OrderedDict[tuple, dict[tuple[int, int], Fraction]] = OrderedDict()
#: at most this many pairs are memoised over all problems (issue 10: the cache is bounded)
CACHE_PAIRS = 1 << 18


def _problem_cache(key: tuple) -> dict[tuple[int, int], Fraction]:
    memo = _CACHE.get(key)
    if memo is None:
        memo = _CACHE[key] = {}
    _CACHE.move_to_end(key)
    while sum(len(m) for m in _CACHE.values()) > CACHE_PAIRS and len(_CACHE) > 1:
        _CACHE.popitem(last=False)
    return memo


def cache_pairs() -> int:
    """Number of memoised alpha* values (at most CACHE_PAIRS once a new problem arrives)."""
    return sum(len(m) for m in _CACHE.values())


def _problem_key(N: int, C: int, prob: ref.SegmentationProblem, floor) -> tuple:
    return (N, C, prob.alpha, prob.setting, prob.budget, floor)


class _Decider:
    """Three-way float decisions of SEG.1 at arbitrary levels, vectorized over pairs (clause F.4)."""

    def __init__(self, N: int, C: int, prob: ref.SegmentationProblem):
        self.N, self.C = N, C
        d = delta_bounds(prob.setting, np.asarray([prob.budget.r]), prob.budget.attack)
        self.dlo, self.dhi = float(d.lo[0]), float(d.hi[0])
        lp = log_pn_lower(prob.setting)
        self.two_over_pn = 2.0 * math.exp(-lp) if lp < 700 else 0.0

    def decide(self, n_a: np.ndarray, n_b: np.ndarray, levels: Sequence[Fraction]) -> tuple[np.ndarray, np.ndarray]:
        """(surely certified, surely not certified) per pair at overall level levels[i]."""
        t = np.array([level_float_down(lv / self.C) for lv in levels], dtype=np.float64)
        p_a, ok_a, rel_a = lower_bounds(n_a, self.N, t, with_rel=True)
        if self.C > 1:
            p_b, ok_b, rel_b = upper_bounds(n_b, self.N, t, with_rel=True)
        else:
            p_b, ok_b, rel_b = np.zeros_like(p_a), np.ones_like(ok_a), np.zeros_like(p_a)
        # spec F.4's slack, float64 (u = U): the same G_lo / G_hi as the classification engine
        g_lo = p_a - p_b - self.two_over_pn - 8 * U
        g_hi = p_a * (1 + rel_a + 4 * U) - p_b * (1 - rel_b - 4 * U) + 8 * U
        ok = ok_a & ok_b  # lower/upper_bounds are never ok outside F.3-A's range (tiny or underflowed t)
        return ok & (g_lo > self.dhi), ok & (g_hi <= self.dlo)

    def _gap(self, n_a: np.ndarray, n_b: np.ndarray, log_alpha: np.ndarray) -> np.ndarray:
        """Float gap p_A - p_B - Delta_mid at overall level exp(log_alpha) (scipy; a guide, not a decision)."""
        from scipy import special

        N, C = self.N, self.C
        t = np.exp(log_alpha) / C
        with np.errstate(all="ignore"):
            pa = np.where(n_a > 0, special.betaincinv(np.maximum(n_a, 1), N - n_a + 1, t), 0.0)
            if C > 1:
                pb = np.where(n_b < N, special.betainccinv(n_b + 1, np.maximum(N - n_b, 1), t), 1.0)
            else:
                pb = 0.0
        return pa - pb - 0.5 * (self.dlo + self.dhi)

    def float_root(self, n_a: np.ndarray, n_b: np.ndarray, log_hi: float, log_lo: float = -745.0) -> np.ndarray:
        """Float estimate of alpha* per pair: the root in log(alpha) of the float gap, in [log_lo, log_hi].

        Illinois (regula falsi with halving) on the gap, which increases with alpha, to a bracket of
        2**-24 in log alpha (the grid's spacing is 2**-20 relative), with bisection for pairs whose
        bracket stalls; a guess only: the grid index it proposes is confirmed by error-bounded decisions.
        Pairs already certified at log_lo get exp(log_lo).
        """
        lo = np.full(n_a.shape, float(log_lo))
        hi = np.full(n_a.shape, float(log_hi))
        f_lo = self._gap(n_a, n_b, lo)
        f_hi = self._gap(n_a, n_b, hi)
        done = ~(np.isfinite(f_lo) & np.isfinite(f_hi)) | (f_lo > 0) | (f_hi <= 0)
        hi = np.where(f_lo > 0, lo, hi)
        side = np.zeros(n_a.shape, dtype=np.int8)
        for step in range(200):
            active = ~done & (hi - lo > 2.0**-24)
            if not active.any():
                break
            ia = np.flatnonzero(active)
            l, h, fl, fh = lo[ia], hi[ia], f_lo[ia], f_hi[ia]
            x = h - fh * (h - l) / (fh - fl)
            bad = ~np.isfinite(x) | (x <= l) | (x >= h) | (step % 8 == 7)  # every 8th step bisects
            x = np.where(bad, 0.5 * (l + h), x)
            fx = self._gap(n_a[ia], n_b[ia], x)
            up = fx > 0  # certified at x: the root is below
            sd = side[ia]
            new_fl = np.where(up, np.where(sd == 1, fl / 2, fl), fx)
            new_fh = np.where(up, fx, np.where(sd == -1, fh / 2, fh))
            hi[ia] = np.where(up, x, h)
            lo[ia] = np.where(up, l, x)
            f_lo[ia], f_hi[ia] = new_fl, new_fh
            side[ia] = np.where(up, 1, -1)
        return np.exp(hi)


def alpha_stars(
    pairs: list[tuple[int, int]], N: int, C: int, prob: ref.SegmentationProblem, floor=None
) -> list[Fraction]:
    """Clause F.5: the reference's grid alpha* (``ref.alpha_star`` with the same ``floor``) for each pair,
    computed fast where the floats are sure."""
    cache = _problem_cache(_problem_key(N, C, prob, floor))
    todo = [p for p in pairs if p not in cache]
    if todo:
        alpha = prob.alpha
        dec = _Decider(N, C, prob)
        n_a = np.array([p[0] for p in todo], dtype=np.float64)
        n_b = np.array([p[1] for p in todo], dtype=np.float64)
        yes, no = dec.decide(n_a, n_b, [alpha] * len(todo))
        result: dict[tuple[int, int], Fraction | None] = {}
        for i, p in enumerate(todo):
            if no[i]:
                result[p] = Fraction(1)
        cand = [i for i in range(len(todo)) if yes[i]]
        if cand:
            top = ref.grid_floor(alpha)  # exact: grid_value(top) <= alpha
            bottom = min(ref.grid_floor(ref.MIN_LEVEL if floor is None else floor), top)
            ci = np.array(cand)
            log_lo = math.log(float(ref.grid_value(bottom))) if float(ref.grid_value(bottom)) > 0 else -745.0
            roots = dec.float_root(n_a[ci], n_b[ci], math.log(float(alpha)), max(log_lo - 1e-3, -745.0))
            g = np.array([max(min(ref.grid_floor(float(x)), top), bottom) if x > 0 else bottom for x in roots],
                         dtype=np.int64)
            for shift in (0, 1):
                gi = np.minimum(g + shift, top)
                at = [ref.grid_value(int(x)) for x in gi]
                below = [ref.grid_value(int(x) - 1) for x in gi]
                y_at, _ = dec.decide(n_a[ci], n_b[ci], at)
                _, n_below = dec.decide(n_a[ci], n_b[ci], below)
                for j, i in enumerate(ci):
                    p = todo[i]
                    # the smallest certified index in [bottom, top]: certified at it, and it is the bottom
                    # or surely not certified one index below
                    if p not in result and y_at[j] and (gi[j] == bottom or n_below[j]):
                        result[p] = at[j]
                # certified at alpha but surely not at the top grid level: alpha itself (as the reference)
                _, n_top = dec.decide(n_a[ci], n_b[ci], [ref.grid_value(top)] * len(ci))
                for j, i in enumerate(ci):
                    if todo[i] not in result and n_top[j]:
                        result[todo[i]] = alpha
        problem = ref.PixelProblem(N, C, prob.sizes_masses)
        for p in todo:
            value = result.get(p)
            if value is None:  # inside the float error bounds: the reference decides
                value = ref.alpha_star(p, problem, prob.alpha, floor)
            cache[p] = value
    return [cache[p] for p in pairs]


def top_two(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per pixel of (C, P) votes: (A = argmax with the lowest index on ties, N_A, N_B) (clause V1).

    A running top-two over the C contiguous rows, cheaper than a strided argmax.
    A tie with the current maximum leaves A unchanged (lowest index) and sets N_B.
    """
    pred = torch.zeros(v.shape[1], dtype=torch.int64, device=v.device)
    top1 = v[0].clone()
    top2 = torch.full_like(top1, -1) if v.shape[0] > 1 else torch.zeros_like(top1)
    for c in range(1, v.shape[0]):
        x = v[c]
        gt = x > top1
        top2 = torch.where(gt, top1, torch.maximum(top2, x))
        top1 = torch.where(gt, x, top1)
        pred = torch.where(gt, torch.full_like(pred, c), pred)
    return pred, top1, top2


def _check_votes(counts, device) -> torch.Tensor:
    if isinstance(counts, torch.Tensor):
        t = counts
    else:
        arr = np.asarray(counts)
        t = torch.from_numpy(np.ascontiguousarray(arr)) if arr.dtype != object else None
        if t is None:
            raise InvalidParameterError("votes must be a numeric array")
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
        raise InvalidParameterError(f"votes must be an integer array, got dtype {t.dtype}")
    if t.ndim not in (2, 3, 4):
        raise InvalidParameterError(f"votes must have shape (C, H, W), (C, P) or (B, C, H, W), got {tuple(t.shape)}")
    if device is not None:
        t = t.to(device)
    t = t.to(torch.int64)
    if t.numel() and int(t.min()) < 0:
        raise InvalidParameterError("votes must be non-negative")
    return t


def segment(
    counts,
    alpha,
    n: Sequence[int],
    k: Sequence[int],
    r: Sequence[int],
    attack="modify",
    method="mmcert",
    labels=None,
    segmented_attack=None,
    r_o: int = 0,
    segmented_modality: int = 0,
    device=None,
) -> ref.SegmentationResult:
    """Clause SEG with the fast engine: same arguments and results as the reference ``segment``.

    ``counts`` and ``labels`` may be numpy arrays or torch tensors (on any
    device; ``device`` moves them).  The decisions are made in float64 with
    F.4's float64 slack (there is no dtype choice here).  Guarantee: the certified masks and metrics
    equal the reference engine's (clause F.1, F.5).
    """
    votes = _check_votes(counts, device)
    batched = votes.ndim == 4
    batch = votes if batched else votes[None]
    B, C = batch.shape[:2]
    spatial = tuple(batch.shape[2:])
    flat = batch.reshape(B, C, -1)
    P = flat.shape[2]
    lab = None
    if labels is not None:
        lt = labels if isinstance(labels, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(labels)))
        if lt.dtype.is_floating_point or lt.dtype == torch.bool:
            raise InvalidParameterError(f"labels must be an integer array, got dtype {lt.dtype}")
        lt = lt.to(flat.device).to(torch.int64)
        lb = lt if batched else lt[None]
        if tuple(lb.shape) != (B,) + spatial:
            raise InvalidParameterError(f"labels of shape {tuple(lt.shape)} do not match votes of shape {tuple(votes.shape)}")
        if lb.numel() and (int(lb.min()) < 0 or int(lb.max()) >= C):
            raise InvalidParameterError(f"labels must lie in [0, {C - 1}] (C = {C} classes)")
        lab = lb.reshape(B, -1)
    prob = ref.segmentation_problem(P, alpha, n, k, r, attack, method, segmented_attack, r_o, segmented_modality)
    images = []
    first_total = None
    for b in range(B):
        v = flat[b]
        totals = v.sum(dim=0)
        N = int(totals[0])
        if bool((totals != N).any()):
            bad = int(torch.nonzero(totals != N)[0, 0])
            raise InvalidParameterError(
                f"votes must total the same N at every pixel: pixel 0 has {N}, pixel {bad} has {int(totals[bad])}"
            )
        if N <= 0:
            raise InvalidParameterError("votes total N = 0: nothing to certify")
        first_total = N if first_total is None else first_total
        pred, n_a, n_b = top_two(v)
        keys = n_a * (N + 1) + n_b
        if (N + 1) ** 2 <= max(4 * P, 1 << 16):
            # dense key space: counting replaces sorting
            mult_dense = torch.bincount(keys, minlength=(N + 1) ** 2)
            uniq = torch.nonzero(mult_dense)[:, 0]
            mult = mult_dense[uniq]
            inverse = None
        else:
            uniq, inverse = torch.unique(keys, return_inverse=True)
            mult = torch.bincount(inverse, minlength=uniq.numel())
        pairs = [(int(x) // (N + 1), int(x) % (N + 1)) for x in uniq.tolist()]
        values = alpha_stars(pairs, N, C, prob, ref.holm_floor(prob.alpha, P))
        accept = torch.as_tensor(ref.holm_accept_values(values, mult.tolist(), prob.alpha), device=v.device)
        value_f = torch.as_tensor([float(x) for x in values], dtype=torch.float64, device=v.device)
        if inverse is None:
            dense_accept = torch.zeros((N + 1) ** 2, dtype=torch.bool, device=v.device)
            dense_accept[uniq] = accept
            dense_value = torch.ones((N + 1) ** 2, dtype=torch.float64, device=v.device)
            dense_value[uniq] = value_f
            stable, astar = dense_accept[keys], dense_value[keys]
        else:
            stable, astar = accept[inverse], value_f[inverse]
        metrics = None
        if lab is not None:
            y = lab[b]
            conf = torch.bincount((pred * C + y)[stable], minlength=C * C).reshape(C, C).cpu().numpy()
            pred_count = torch.bincount(pred, minlength=C).cpu().numpy()
            metrics = ref.metrics_from_confusion(conf, pred_count, P, prob.segmented_attack, prob.r_o)
        images.append(
            ref.ImageResult(
                stable.reshape(spatial).cpu().numpy(),
                pred.reshape(spatial).cpu().numpy(),
                astar.reshape(spatial).cpu().numpy(),
                metrics,
            )
        )
    return ref.SegmentationResult(
        tuple(images), batched, prob.setting.method, prob.alpha, prob.setting, prob.budget,
        prob.segmented_attack, prob.r_o, C, first_total or 0,
    )
