"""Certified segmentation with the exact reference engine (spec clauses SEG.1-SEG.7).

Per pixel j the ensemble predicts A_j = argmax_l N_l^j with runner-up B_j
(clause V1).  Pixel j is certified at level a when Theorem 1 (clause T1.4)
holds with the bound method's p_A and p_B at family level a (clause SEG.1;
``bonferroni``, the default: p_A = cp_lower(N_A^j, N, a/C) and
p_B = cp_upper(N_B^j, N, a/C); ``complement`` and ``combined``: clauses CP.6,
CP.7).  Certification is monotone in a for every method, so

    alpha*_j = inf { a in (0, 1) : pixel j is certified at level a }     (SEG.2)

is a valid p-value for "pixel j is not certifiably stable", and the Holm
step-down at family level alpha over all n_o pixels (clause SEG.3) bounds the
probability of certifying any unstable pixel by alpha.

alpha*_j depends only on (N_A^j, N_B^j) once N, C, the method, the setting and
the budget are fixed, so it is computed once per distinct pair, on a fixed grid of levels
(:func:`alpha_star`): the value is a level at which the pair **is certified**
by the reference decision (never below the true infimum), within a factor
1 + 2**-20 of the infimum.  Pairs not certified at the family level alpha get
alpha* = 1: Holm can never accept them, since no Holm threshold exceeds alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np

from ..bounds.rules import BoundName, bound_rule
from ..errors import InvalidParameterError
from ..threat_model import Attack, Budget, Method, Setting, attacked_sizes, parse_attacks
from .certify import alpha_fraction
from .clopper_pearson import decimal_string
from .monotone import first_true
from .theorem1 import SubsampleMasses, decide

#: alpha* lives on the grid of binary numbers with GRID_BITS + 1 significant bits (SEG.2)
GRID_BITS = 20
#: the grid's bottom: the smallest positive double; a pixel certified even there gets this alpha*
MIN_LEVEL = 5e-324


# --------------------------------------------------------------------------- votes

@dataclass(frozen=True)
class PixelVotes:
    """Per-pixel top-two counts of a (C, P) vote array (clause V1, per pixel)."""

    n_a: np.ndarray  # (P,) int64
    n_b: np.ndarray  # (P,) int64
    pred: np.ndarray  # (P,) int64, argmax with lowest index on ties
    total: int  # N, the same at every pixel
    classes: int  # C


def pixel_votes(counts: np.ndarray) -> PixelVotes:
    """Validate a (C, P) integer vote array and extract A, N_A, N_B per pixel. O(C*P) memory."""
    if counts.ndim != 2:
        raise InvalidParameterError(f"expected votes of shape (C, P), got {counts.shape}")
    c, p = counts.shape
    if c < 1 or p < 1:
        raise InvalidParameterError(f"empty vote array of shape {counts.shape}")
    totals = counts.sum(axis=0, dtype=np.int64)
    n = int(totals[0])
    if not np.all(totals == n):
        bad = int(np.flatnonzero(totals != n)[0])
        raise InvalidParameterError(
            f"votes must total the same N at every pixel: pixel 0 has {n}, pixel {bad} has {int(totals[bad])}"
        )
    if n <= 0:
        raise InvalidParameterError("votes total N = 0: nothing to certify")
    pred = np.argmax(counts, axis=0).astype(np.int64)  # numpy argmax: first maximum
    n_a = np.take_along_axis(counts, pred[None, :], axis=0)[0].astype(np.int64)
    if c == 1:
        n_b = np.zeros(p, dtype=np.int64)
    else:
        masked = counts.astype(np.int64, copy=True)
        np.put_along_axis(masked, pred[None, :], -1, axis=0)
        n_b = masked.max(axis=0)
    return PixelVotes(n_a, n_b, pred, n, c)


def check_vote_array(counts) -> np.ndarray:
    """Votes must be a non-negative integer array."""
    arr = np.asarray(counts)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(f"votes must be an integer array, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise InvalidParameterError("votes must be non-negative")
    return arr.astype(np.int64, copy=False)


# --------------------------------------------------------------------------- alpha*

@dataclass(frozen=True)
class PixelProblem:
    """What alpha*_j depends on besides (N_A, N_B): N, C, the Theorem 1 masses and the bound method (SEG.2)."""

    total: int
    classes: int
    masses: SubsampleMasses
    #: the bound method (clause CP.5; a :class:`BoundName` value), fixed before the votes are seen
    bound: str = BoundName.BONFERRONI.value


def certified_at_level(pair: tuple[int, int], problem: PixelProblem, level_alpha: Fraction) -> bool:
    """Clause SEG.1: is a pixel with votes (N_A, N_B) certified at overall level ``level_alpha``?

    p_A and p_B are the bound method's exact bounds at family level ``level_alpha`` (CP.4-CP.7:
    ``bonferroni`` takes both at level_alpha / C).
    """
    n_a, n_b = pair
    bounds = bound_rule(problem.bound).exact(n_a, n_b, problem.total, problem.classes, Fraction(level_alpha))
    return decide(bounds.p_a_lower, bounds.p_b_upper, problem.masses).certified


def _float_guess(pair: tuple[int, int], problem: PixelProblem, cap: float) -> float:
    """Float estimate of alpha* (scipy); only a starting point, checked exactly afterwards."""
    from scipy.optimize import brentq
    from scipy.special import betainccinv, betaincinv

    n_a, n_b = pair
    N, C = problem.total, problem.classes
    m = problem.masses
    delta = m.threshold / m.p_n if m.p_n < 10**300 else float(Fraction(m.threshold, m.p_n))
    rule = bound_rule(problem.bound)
    scale_a = float(rule.level_a(Fraction(1), C))  # the methods' levels are proportional to alpha
    lb = rule.level_b(Fraction(1), C) if C > 1 else None
    scale_b = None if lb is None else float(lb)

    def gap(log_a: float) -> float:
        a = math.exp(log_a)
        lo = betaincinv(n_a, N - n_a + 1, a * scale_a) if n_a > 0 else 0.0
        if C == 1:
            return lo - delta
        ups = [1.0 - lo] if rule.complement else []
        if scale_b is not None:
            ups.append(betainccinv(n_b + 1, N - n_b, a * scale_b) if n_b < N else 1.0)
        return lo - min(ups) - delta

    hi = math.log(cap)
    lo = -745.0
    try:
        if gap(lo) > 0:
            return math.exp(lo)
        if gap(hi) <= 0:
            return cap
        return math.exp(brentq(gap, lo, hi, xtol=1e-14, rtol=1e-13))
    except (ValueError, OverflowError):
        return float("nan")


def grid_floor(x) -> int:
    """Index of the largest grid level <= x (clause SEG.2's level grid), computed exactly.

    ``x`` is any positive rational (a float is read as its exact binary value), so levels below the
    double range (alpha = 1e-400) have an index too.
    """
    x = Fraction(x)
    if x <= 0:
        raise InvalidParameterError(f"grid levels are positive, got {x}")
    num, den = x.numerator, x.denominator
    e = num.bit_length() - den.bit_length()  # 2**(e-1) < x < 2**(e+1)
    if x >= Fraction(2) ** e:  # the frexp convention: 2**(e-1) <= x < 2**e
        e += 1
    shift = GRID_BITS + 1 - e
    scaled = x * Fraction(2) ** shift  # in [2**GRID_BITS, 2**(GRID_BITS+1))
    mant = scaled.numerator // scaled.denominator
    return (e + 2000) * 2**GRID_BITS + (mant - 2**GRID_BITS)


def grid_value(index: int) -> Fraction:
    """The exact rational grid level of ``index`` (inverse of :func:`grid_floor`)."""
    e, off = divmod(index, 2**GRID_BITS)
    mant = off + 2**GRID_BITS
    e -= 2000
    exp = e - (GRID_BITS + 1)
    return Fraction(mant * 2**exp) if exp >= 0 else Fraction(mant, 2**-exp)


def holm_floor(alpha, pixels: int) -> Fraction:
    """Clause SEG.2's floor for an image of ``pixels`` pixels: the largest grid level <= alpha / (2 pixels).

    Every Holm threshold alpha / (m + 1 - j) is >= alpha / m > this floor, so a pixel certified at the
    floor is accepted by Holm whatever its exact alpha* below it (SEG.3); reporting the floor instead
    changes no certified pixel and keeps alpha* a level at which the pixel is certified.
    """
    return grid_value(grid_floor(alpha_fraction(alpha) / (2 * max(int(pixels), 1))))


def alpha_star(pair: tuple[int, int], problem: PixelProblem, alpha, floor=None) -> Fraction:
    """Clause SEG.2: alpha*_j on the level grid, for a pixel with votes ``pair``.

    The grid is the set of binary numbers with GRID_BITS + 1 significant bits
    (relative spacing 2**-GRID_BITS), a machine-independent set of exact
    rationals.  Returns the smallest grid level g in [floor, alpha] at which the
    reference decision certifies the pixel (alpha itself if no grid level
    below it does), or 1 when the pixel is not certified at alpha.  ``floor``
    (segmentation passes :func:`holm_floor`; default: the smallest positive
    double) bounds the search from below.  Since the pixel is certified at the
    returned level, it is never below the true infimum; above the floor it
    exceeds it by at most a factor 1 + 2**-GRID_BITS.  The fast engine computes
    the same function (clause F.5), so both engines feed Holm identical values.
    """
    alpha = alpha_fraction(alpha)
    if not certified_at_level(pair, problem, alpha):
        return Fraction(1)
    top = grid_floor(alpha)  # exact: grid_value(top) <= alpha
    # the bottom of the search: the floor, or the smallest positive double, never above alpha's own index
    bottom = min(grid_floor(MIN_LEVEL if floor is None else floor), top)

    def ok(i: int) -> bool:
        return certified_at_level(pair, problem, grid_value(i))

    guess = _float_guess(pair, problem, float(alpha)) if float(alpha) > 0 else float("nan")
    if math.isfinite(guess) and guess > 0:
        g = max(min(grid_floor(guess), top), bottom)
        # the answer is the smallest certified index; confirm around the float guess
        for cand in (g, g + 1):
            if cand <= top and ok(cand) and (cand == bottom or not ok(cand - 1)):
                return grid_value(cand)
    if not ok(top):
        return alpha
    lo = bottom
    if ok(lo):
        return grid_value(lo)  # certified even there: alpha* is reported as the bottom of the search
    return grid_value(first_true(ok, lo, top))  # ok(top) and not ok(lo): bisect on grid indices


# --------------------------------------------------------------------------- Holm

def holm_accept_values(values: Sequence[Fraction], multiplicity: Sequence[int], alpha) -> np.ndarray:
    """Clause SEG.3 on distinct p-values: which values Holm accepts (certifies).

    ``values[i]`` occurs ``multiplicity[i]`` times among the m = sum(multiplicity)
    pixels.  Sorted ascending, hypothesis (j) (1-based) is rejected -- the
    pixel certified -- while alpha*_(j) <= alpha / (m + 1 - j); the first
    failure stops the procedure.  Within a group of equal values the first
    position has the smallest threshold, so a group passes or fails as a whole,
    and ties cannot straddle the stopping point.  Comparisons are exact.
    """
    alpha = alpha_fraction(alpha)
    mult = [int(c) for c in multiplicity]
    m = sum(mult)
    accept = np.zeros(len(values), dtype=bool)
    before = 0  # pixels with a smaller value
    for i in sorted(range(len(values)), key=lambda i: values[i]):
        if mult[i] == 0:
            continue
        if values[i] * (m - before) <= alpha:  # position j = before + 1: m + 1 - j = m - before
            accept[i] = True
            before += mult[i]
        else:
            break
    return accept


def holm_accept(alpha_stars, alpha, values: Sequence[Fraction] | None = None) -> np.ndarray:
    """Clause SEG.3 per pixel.

    ``alpha_stars`` holds per pixel an index into ``values`` (distinct
    Fractions), or, when ``values`` is None, the p-values themselves as floats
    (their exact binary values are used).  Returns a bool per pixel.
    """
    if values is None:
        uniq, inverse = np.unique(np.asarray(alpha_stars, dtype=np.float64), return_inverse=True)
        vals = [Fraction(float(v)) for v in uniq]
        idx = inverse.reshape(-1)
    else:
        vals = list(values)
        idx = np.asarray(alpha_stars).reshape(-1)
    mult = np.bincount(idx, minlength=len(vals))
    return holm_accept_values(vals, mult, alpha)[idx]


# --------------------------------------------------------------------------- metrics

def _ratio(num: int, den: int) -> float:
    """num/den with 0/0 := 1 (clause SEG.6: nothing to find and nothing missed)."""
    if den == 0:
        return 1.0
    return num / den


@dataclass(frozen=True)
class SegmentationMetrics:
    """Certified metrics of one image (clauses SEG.4-SEG.6)."""

    pixel_accuracy: float
    f_score: float  # mean over classes
    iou: float  # mean over classes
    per_class_f_score: tuple[float, ...]
    per_class_iou: tuple[float, ...]


def stable_confusion(pred: np.ndarray, labels: np.ndarray, stable: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(conf, pred_count): conf[p, y] = #stable pixels predicted p with truth y; pred_count[p] = #pixels predicted p."""
    conf = np.bincount(pred[stable] * classes + labels[stable], minlength=classes * classes)
    return conf.reshape(classes, classes), np.bincount(pred, minlength=classes)


def metrics_from_confusion(
    conf: np.ndarray,
    pred_count: np.ndarray,
    n_o: int,
    segmented_attack: Attack = Attack.MODIFY,
    r_o: int = 0,
) -> SegmentationMetrics:
    """Clauses SEG.4 (modification), SEG.5 (addition / deletion of r_o elements of m_o), SEG.6.

    From the stable confusion matrix, per class c one-vs-rest: TP = conf[c, c],
    TN = #stable - (#stable predicted c + #stable labelled c - TP),
    FP = #predicted c - TP, FN = #predicted not c - TN.  Pixel accuracy counts
    stable, correct pixels (for C = 2 the paper's (TP+TN)/(TP+TN+FP+FN));
    F-score and IoU are per class, then averaged over the C classes.
    """
    conf = np.asarray(conf, dtype=np.int64)
    classes = conf.shape[0]
    stable_total = int(conf.sum())
    correct = int(np.trace(conf))
    rule = Attack(segmented_attack).rule  # how the attack's r_o pixels count (SEG.5: threat/attacks.py)
    pa = rule.pixel_accuracy(correct, n_o, r_o)
    fs, ious = [], []
    for c in range(classes):
        tp = int(conf[c, c])
        tn = stable_total - (int(conf[c, :].sum()) + int(conf[:, c].sum()) - tp)
        fp = int(pred_count[c]) - tp
        fn = (n_o - int(pred_count[c])) - tn
        tp, wrong = rule.worst_counts(tp, fp + fn, r_o)
        fs.append(_ratio(2 * tp, 2 * tp + wrong))
        ious.append(_ratio(tp, tp + wrong))
    return SegmentationMetrics(pa, float(np.mean(fs)), float(np.mean(ious)), tuple(fs), tuple(ious))


def certified_metrics(pred, labels, stable, classes, segmented_attack=Attack.MODIFY, r_o=0) -> SegmentationMetrics:
    """Clauses SEG.4-SEG.6 from per-pixel predictions, labels and the certified mask."""
    conf, pred_count = stable_confusion(pred, labels, stable, classes)
    return metrics_from_confusion(conf, pred_count, int(pred.size), segmented_attack, r_o)


# --------------------------------------------------------------------------- driver

@dataclass(frozen=True)
class ImageResult:
    """One image's certification: the certified mask, predictions and metrics."""

    certified: np.ndarray  # bool, the image's spatial shape
    pred: np.ndarray  # int, the image's spatial shape
    alpha_star: np.ndarray  # float64 (exact binary values of the Fractions used), spatial shape
    metrics: SegmentationMetrics | None

    def to_json(self) -> dict:
        n_cert = int(np.count_nonzero(self.certified))
        doc = {
            "pixels": int(self.certified.size),
            "certified_pixels": n_cert,
            "abstained_pixels": int(self.certified.size) - n_cert,
        }
        if self.metrics is not None:
            m = self.metrics
            doc.update(
                pixel_accuracy=m.pixel_accuracy,
                f_score=m.f_score,
                iou=m.iou,
                per_class={"f_score": list(m.per_class_f_score), "iou": list(m.per_class_iou)},
            )
        return doc


@dataclass(frozen=True)
class SegmentationResult:
    """Certification of one image or a batch (clause SEG).

    ``bound`` is the bound method's name (clause CP.5).  ``to_json`` adds ``bound`` and ``alpha_split``
    (as the certificate's ``claims.alpha_split``, at the family level alpha) only for a method other
    than ``bonferroni``, so the default output is unchanged.
    """

    images: tuple[ImageResult, ...]
    batched: bool
    method: Method
    alpha: Fraction
    setting: Setting
    budget: Budget
    segmented_attack: Attack
    r_o: int
    classes: int
    total: int
    extra: dict = field(default_factory=dict)
    bound: str = BoundName.BONFERRONI.value

    @property
    def certified_mask(self) -> np.ndarray:
        masks = np.stack([im.certified for im in self.images])
        return masks if self.batched else masks[0]

    def to_json(self) -> dict:
        per = [im.to_json() for im in self.images]
        head = {
            "method": self.method.value,
            "alpha": decimal_string(self.alpha),
            "N": self.total,
            "C": self.classes,
            "n": list(self.setting.n),
            "k": list(self.setting.k),
            "r": list(self.budget.r),
            "attack": [a.value for a in self.budget.attack],
            "segmented_attack": self.segmented_attack.value,
            "r_o": self.r_o,
        }
        if self.bound != BoundName.BONFERRONI.value:  # additive: the default output is unchanged (CP.5)
            head["bound"] = self.bound
            head["alpha_split"] = bound_rule(self.bound).alpha_split(self.alpha, self.classes)
        head.update(self.extra)
        if not self.batched:
            head.update(per[0])
            return head
        head["images"] = per
        head["pixels"] = sum(d["pixels"] for d in per)
        head["certified_pixels"] = sum(d["certified_pixels"] for d in per)
        head["abstained_pixels"] = sum(d["abstained_pixels"] for d in per)
        if self.images[0].metrics is not None:
            for key in ("pixel_accuracy", "f_score", "iou"):
                head[key] = float(np.mean([d[key] for d in per]))
            head["per_class"] = {
                key: [float(v) for v in np.mean([d["per_class"][key] for d in per], axis=0)]
                for key in ("f_score", "iou")
            }
        return head


@dataclass(frozen=True)
class SegmentationProblem:
    """Everything about a segmentation certification except the votes."""

    alpha: Fraction
    setting: Setting
    budget: Budget
    sizes_masses: SubsampleMasses
    segmented_attack: Attack
    r_o: int
    #: the bound method (clause CP.5), a :class:`BoundName` value
    bound: str = BoundName.BONFERRONI.value


def segmentation_problem(
    pixels: int, alpha, n, k, r, attack, method, segmented_attack, r_o, segmented_modality, bound="bonferroni"
) -> SegmentationProblem:
    """Validate the threat model and the bound method of a segmentation request (shared by both engines)."""
    bound_name = bound_rule(bound).name.value
    setting = Setting(tuple(n), tuple(k), Method(method))
    attacks = parse_attacks(attack, setting.modalities)
    budget = Budget(tuple(r), attacks)
    o = int(segmented_modality)
    if not 0 <= o < setting.modalities:
        raise InvalidParameterError(
            f"segmented modality {o + 1} does not exist (there are {setting.modalities})"
        )
    if pixels > setting.n[o]:
        raise InvalidParameterError(
            f"the votes have {pixels} pixels but the segmented modality {o + 1} has n = {setting.n[o]} elements"
        )
    att_o, r_here = attacks[o], budget.r[o]
    if segmented_attack is None:
        seg_att, seg_r = att_o, r_here
    else:
        seg_att = parse_attacks(segmented_attack, 1)[0]
        seg_r = int(r_o) if seg_att is not Attack.MODIFY else r_here
        if seg_att is not att_o or seg_r != r_here:
            raise InvalidParameterError(
                f"--segmented-attack {seg_att.value} --r-o {seg_r} disagrees with modality {o + 1}'s "
                f"--attack {att_o.value} --r {r_here}: the per-pixel certificate must cover the same attack"
            )
    if seg_att.rule.after(pixels, seg_r) <= 0:  # deleting r_o >= all the segmented elements
        raise InvalidParameterError(f"deleting r_o = {seg_r} of {pixels} segmented elements leaves none")
    masses = SubsampleMasses.of(attacked_sizes(setting, budget))
    return SegmentationProblem(alpha_fraction(alpha), setting, budget, masses, seg_att, seg_r, bound_name)


def prepare(
    counts, alpha, n, k, r, attack, method, labels, segmented_attack, r_o, segmented_modality, bound="bonferroni"
) -> tuple[np.ndarray, np.ndarray | None, bool, SegmentationProblem]:
    """Validate votes, labels and the threat model; votes as (B, C, P') arrays."""
    votes = check_vote_array(counts)
    if votes.ndim not in (2, 3, 4):
        raise InvalidParameterError(
            f"votes must have shape (C, H, W), (C, P) or (B, C, H, W), got {votes.shape}"
        )
    batched = votes.ndim == 4
    batch = votes if batched else votes[None]
    lab = None
    if labels is not None:
        lab = np.asarray(labels)
        if lab.dtype == bool or not np.issubdtype(lab.dtype, np.integer):
            raise InvalidParameterError(f"labels must be an integer array, got dtype {lab.dtype}")
        want = batch.shape[:1] + batch.shape[2:]
        lab_b = lab if batched else lab[None]
        if lab_b.shape != want:
            raise InvalidParameterError(
                f"labels of shape {lab.shape} do not match votes of shape {votes.shape}"
            )
        c = batch.shape[1]
        if lab.size and (lab.min() < 0 or lab.max() >= c):
            raise InvalidParameterError(f"labels must lie in [0, {c - 1}] (C = {c} classes)")
        lab = lab_b.astype(np.int64, copy=False)
    pixels = int(np.prod(batch.shape[2:]))
    problem = segmentation_problem(pixels, alpha, n, k, r, attack, method, segmented_attack, r_o,
                                   segmented_modality, bound)
    return batch, lab, batched, problem


def segment(counts, alpha, n: Sequence[int], k: Sequence[int], r: Sequence[int], attack="modify",
            method="mmcert", labels=None, segmented_attack=None, r_o: int = 0, segmented_modality: int = 0,
            progress: Callable[[int, int], None] | None = None, bound="bonferroni") -> SegmentationResult:
    """Certify every pixel of one image or a batch with the reference engine (clause SEG).

    Guarantee (per image): with probability at least 1 - alpha over the N
    sub-samples, every pixel reported certified keeps its label under every
    attack in S(M, R) (clause SEG.3).  Metrics are lower bounds on the
    attacked image's metrics on that event (clauses SEG.4-SEG.6).
    ``segmented_modality`` is 0-based; the segmented attack defaults to that
    modality's attack and budget and, when given, must agree with them.
    ``bound`` is the bound method (clauses CP.4-CP.7, fixed before the votes are seen: CP.5).
    """
    batch, lab, batched, prob = prepare(
        counts, alpha, n, k, r, attack, method, labels, segmented_attack, r_o, segmented_modality, bound
    )
    C = batch.shape[1]
    spatial = batch.shape[2:]
    images = []
    cache: dict[tuple[int, int, int], Fraction] = {}
    floor = holm_floor(prob.alpha, int(np.prod(spatial)))
    for b in range(batch.shape[0]):
        pv = pixel_votes(batch[b].reshape(C, -1))
        problem = PixelProblem(pv.total, C, prob.sizes_masses, prob.bound)
        keys = pv.n_a * (pv.total + 1) + pv.n_b
        uniq, inverse = np.unique(keys, return_inverse=True)
        values = []
        for i, key in enumerate(uniq):
            pair = (int(key) // (pv.total + 1), int(key) % (pv.total + 1))
            ck = (pv.total, pair[0], pair[1])
            if ck not in cache:
                cache[ck] = alpha_star(pair, problem, prob.alpha, floor)
            values.append(cache[ck])
            if progress is not None:
                progress(i + 1, len(uniq))
        stable = holm_accept(inverse.reshape(-1), prob.alpha, values)
        astar = np.array([float(v) for v in values], dtype=np.float64)[inverse.reshape(-1)]
        metrics = None
        if lab is not None:
            metrics = certified_metrics(pv.pred, lab[b].reshape(-1), stable, C, prob.segmented_attack, prob.r_o)
        images.append(ImageResult(stable.reshape(spatial), pv.pred.reshape(spatial), astar.reshape(spatial), metrics))
    return SegmentationResult(
        tuple(images), batched, prob.setting.method, prob.alpha, prob.setting, prob.budget,
        prob.segmented_attack, prob.r_o, C, images and int(batch[0].sum(axis=0).reshape(-1)[0]) or 0,
        bound=prob.bound,
    )
