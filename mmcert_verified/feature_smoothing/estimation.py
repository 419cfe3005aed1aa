"""Confidence bounds on the Gaussian robustness score S from Monte Carlo samples (clauses FS.5-FS.6).

The samples are h_j = (1 + c_j)/2 in [0, 1], c_j = cos(f(x + delta_j), f(x)),
delta_j iid N(0, sigma^2 I), so E h_j = S(x) exactly (clause FS.1).  Each bound
here holds with probability at least 1 - alpha over the draw of the N samples:

* ``HOEFFDING`` (FS.5): S >= mean - sqrt(ln(1/alpha) / (2N)), clamped at 0.
* ``BERNSTEIN`` (FS.6, Maurer & Pontil 2009, Theorem 4, N >= 2):
  S >= mean - sqrt(2 V ln(2/alpha) / N) - 7 ln(2/alpha) / (3 (N - 1)), clamped at 0,
  with V the unbiased sample variance.  Tighter when V is small (encoders
  whose noisy features stay close to the clean one).

The statistics (N, sum h_j, sum h_j^2) are kept as exact rationals (the floats
are dyadic), and the bounds are evaluated in ball arithmetic and rounded to
the safe side at 10^-30 (clause FS.G3), so a reported lower bound is never above
the exact formula's value.  Upper bounds (for the prediction certificate,
clause FS.7) are 1 - (the lower bound of the 1 - h_j), clamped at 1.

* betting (FS.12, Waudby-Smith & Ramdas 2024): :func:`score_lower_betting`, from the samples in order
  (not a function of the statistics above, so not a :class:`ScoreBound`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InvalidParameterError
from ..threat.alpha import alpha_fraction
from flint import arb

from .gaussian import (
    DECIMALS,
    ceil_decimal,
    endpoint_fraction,
    floor_decimal,
    precisions,
    radius_ok,
    to_arb,
    working_precision,
)


class ScoreBound(str, enum.Enum):
    """How S is bounded from the samples (clauses FS.5, FS.6)."""

    HOEFFDING = "hoeffding"
    BERNSTEIN = "bernstein"

    @property
    def min_samples(self) -> int:
        return 2 if self is ScoreBound.BERNSTEIN else 1


@dataclass(frozen=True)
class ScoreStatistics:
    """Exact sufficient statistics of N samples h_j in [0, 1] (clause FS.5)."""

    n: int
    total: Fraction  # sum h_j
    total_squares: Fraction  # sum h_j^2

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise InvalidParameterError(f"the number of samples must be a positive integer, got {self.n!r}")
        t, q = Fraction(self.total), Fraction(self.total_squares)
        # h in [0, 1] implies 0 <= sum h^2 <= sum h <= N and N sum h^2 >= (sum h)^2 (Cauchy-Schwarz)
        if not (0 <= q <= t <= self.n and self.n * q >= t * t):
            raise InvalidParameterError("inconsistent score statistics (not from samples in [0, 1])")

    @property
    def mean(self) -> Fraction:
        return Fraction(self.total) / self.n

    @property
    def variance(self) -> Fraction:
        """Unbiased sample variance (sum (h - mean)^2)/(N - 1); 0 for N = 1."""
        if self.n == 1:
            return Fraction(0)
        return (Fraction(self.total_squares) - Fraction(self.total) ** 2 / self.n) / (self.n - 1)

    def complement(self) -> "ScoreStatistics":
        """The statistics of 1 - h_j (for upper bounds)."""
        t, q = Fraction(self.total), Fraction(self.total_squares)
        return ScoreStatistics(self.n, self.n - t, self.n - 2 * t + q)


def check_cosines(cosines) -> np.ndarray:
    """A 1-D float array of cosines in [-1, 1] without NaN, as float64 (values kept exactly)."""
    arr = np.asarray(cosines)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidParameterError(f"cosines must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InvalidParameterError(f"cosines must be a float array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)  # exact widening of float16/float32
    if np.isnan(arr).any():
        raise InvalidParameterError("cosines contain NaN")
    if (arr < -1).any() or (arr > 1).any():
        bad = arr[(arr < -1) | (arr > 1)][0]
        raise InvalidParameterError(f"cosines must lie in [-1, 1], found {bad!r}")
    return arr


def _dyadic_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 values = ints * 2^shifts exactly (53-bit integer mantissas; zeros have mantissa 0)."""
    mant, expo = np.frexp(values)  # values = mant * 2^expo, 0.5 <= |mant| < 1 (exact, subnormals too)
    ints = (mant * 2.0**53).astype(np.int64)  # exact: a 53-bit mantissa times a power of two
    return ints, expo.astype(np.int64) - 53


def _exact_power_sum(values: np.ndarray, power: int) -> Fraction:
    """The exact sum of values**power (power 1 or 2) of float64 values, as a dyadic rational."""
    if values.size == 0:
        return Fraction(0)
    ints, shifts = _dyadic_parts(values)
    shifts = shifts * power
    low = int(shifts.min())
    total = 0
    for s in np.unique(shifts):
        group = ints[shifts == s].astype(object)
        total += int((group**power).sum()) << int(s - low)
    return Fraction(total) * Fraction(2) ** low


def statistics_from_cosines(cosines) -> ScoreStatistics:
    """Clause FS.5: exact (N, sum h, sum h^2) of h_j = (1 + c_j)/2 for the given float cosines."""
    c = check_cosines(cosines)
    n = int(c.size)
    sc = _exact_power_sum(c, 1)
    sq = _exact_power_sum(c, 2)
    # h = (1 + c)/2: sum h = (N + sum c)/2, sum h^2 = (N + 2 sum c + sum c^2)/4 (exact rationals)
    return ScoreStatistics(n, (n + sc) / 2, (n + 2 * sc + sq) / 4)


def _deviation_ball(stats: ScoreStatistics, alpha: Fraction, method: ScoreBound):
    """A ball containing mean - (the deviation term of the method)."""
    n = stats.n
    mean = to_arb(stats.mean)
    if method is ScoreBound.HOEFFDING:
        return mean - (to_arb(1 / alpha).log() / (2 * n)).sqrt()
    log_term = to_arb(2 / alpha).log()
    v = to_arb(stats.variance)
    return mean - (2 * v * log_term / n).sqrt() - 7 * log_term / (3 * (n - 1))


def score_lower(stats: ScoreStatistics, alpha: Fraction, method: ScoreBound = ScoreBound.HOEFFDING) -> Fraction:
    """Clauses FS.5/FS.6: a lower confidence bound on S at level 1 - alpha, rounded down to 10^-30.

    With probability >= 1 - alpha over the samples, S(x) >= the returned value.
    """
    alpha = alpha_fraction(alpha)
    method = ScoreBound(method)
    if stats.n < method.min_samples:
        raise InvalidParameterError(f"the {method.value} bound needs at least {method.min_samples} samples")
    for bits in precisions():
        with working_precision(bits):
            ball = _deviation_ball(stats, alpha, method)
            if radius_ok(ball):
                return max(Fraction(0), floor_decimal(ball))
    raise ArithmeticError("score bound enclosure did not converge")


def score_upper(stats: ScoreStatistics, alpha: Fraction, method: ScoreBound = ScoreBound.HOEFFDING) -> Fraction:
    """Clause FS.7: an upper confidence bound on S at level 1 - alpha (1 - lower bound of 1 - h), <= 1."""
    alpha = alpha_fraction(alpha)
    method = ScoreBound(method)
    if stats.n < method.min_samples:
        raise InvalidParameterError(f"the {method.value} bound needs at least {method.min_samples} samples")
    comp = stats.complement()
    for bits in precisions():
        with working_precision(bits):
            ball = 1 - _deviation_ball(comp, alpha, method)
            if radius_ok(ball):
                return min(Fraction(1), ceil_decimal(ball))
    raise ArithmeticError("score bound enclosure did not converge")


# --- float64 versions for simulations (coverage tests, fast batches) ----------------------------

#: absolute slack subtracted by the float versions: covers float64 rounding of a handful of operations
FLOAT_SLACK = 1e-12


def score_lower_float(h: np.ndarray, alpha: float, method: ScoreBound = ScoreBound.HOEFFDING) -> np.ndarray:
    """Float64 version of :func:`score_lower` over the last axis of ``h`` (rows of samples in [0, 1]).

    Lower by at most 2e-12 than the exact bound and never above it: the float
    evaluation of these few well-conditioned operations errs by far less than
    :data:`FLOAT_SLACK` (checked against the exact version in
    ``tests/feature_smoothing/test_estimation.py``).
    """
    h = np.asarray(h, np.float64)
    n = h.shape[-1]
    mean = h.mean(axis=-1)
    method = ScoreBound(method)
    if method is ScoreBound.HOEFFDING:
        low = mean - math.sqrt(math.log(1 / alpha) / (2 * n))
    else:
        if n < 2:
            raise InvalidParameterError("the bernstein bound needs at least 2 samples")
        v = h.var(axis=-1, ddof=1)
        lt = math.log(2 / alpha)
        low = mean - np.sqrt(2 * v * lt / n) - 7 * lt / (3 * (n - 1))
    return np.maximum(0.0, low - FLOAT_SLACK)


# --- betting lower confidence bound (clause FS.12; Waudby-Smith & Ramdas 2024) -------------------

#: the ``--bound`` name of the betting bound (not a :class:`ScoreBound`: it depends on the order of the
#: samples, not only on (N, sum h, sum h^2), so certificates (FS.10) cannot record it)
BETTING = "betting"
#: bets are capped at c = 3/4, so every factor 1 + lambda (h - m) >= 1 - c > 0 for h, m in [0, 1]
BETTING_CAP = 0.75
#: most samples the exact betting bound accepts (its verification is a loop over the samples)
BETTING_MAX_SAMPLES = 10**6
#: absolute slack of the float version (covers float64 rounding of the log-capital; see its docstring)
BETTING_FLOAT_SLACK = 1e-9


def _log_inverse(alpha: Fraction) -> float:
    """ln(1/alpha) in float64 (from the exact rational, so alpha below the float range works)."""
    return math.log(alpha.denominator) - math.log(alpha.numerator)


def betting_bets(h: np.ndarray, alpha) -> np.ndarray:
    """Clause FS.12: the predictable bets lambda_1..lambda_N over the last axis of ``h`` (float64).

    lambda_i = min(c, sqrt(2 ln(1/alpha) / (N s_{i-1}))) with c = :data:`BETTING_CAP` and the
    predictable variance estimate of Waudby-Smith & Ramdas (2024, eqs. 26-27):
    m_t = (1/2 + sum_{j<=t} h_j)/(t + 1), s_t = (1/4 + sum_{j<=t} (h_j - m_j)^2)/(t + 1), s_0 = 1/4.
    lambda_i depends on h_1..h_{i-1} only (and on N, alpha, fixed in advance); the float rounding of
    this formula does not matter for validity (any predictable bets in [0, c] are valid).
    """
    h = np.asarray(h, np.float64)
    n = h.shape[-1]
    t = np.arange(1, n + 1, dtype=np.float64)
    mu = (0.5 + np.cumsum(h, axis=-1)) / (t + 1)
    sig = (0.25 + np.cumsum((h - mu) ** 2, axis=-1)) / (t + 1)
    prev = np.concatenate([np.full(h.shape[:-1] + (1,), 0.25), sig[..., :-1]], axis=-1)
    ell = _log_inverse(Fraction(alpha))
    return np.minimum(BETTING_CAP, np.sqrt(2 * ell / (n * prev)))


def _float_root(h: np.ndarray, lam: np.ndarray, ell: float, iterations: int = 60) -> np.ndarray:
    """Per row, the lower end of a bisection bracket of inf{m : sum log(1 + lam (h - m)) < ell}."""
    lo = np.zeros(h.shape[:-1])
    hi = np.ones(h.shape[:-1])
    for _ in range(iterations):
        mid = (lo + hi) / 2
        above = np.log1p(lam * (h - mid[..., None])).sum(axis=-1) >= ell
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return lo


def score_lower_betting_float(h: np.ndarray, alpha: float) -> np.ndarray:
    """Float64 version of :func:`score_lower_betting` over the last axis of ``h`` (for simulations).

    The log-capital sum of N terms errs by about N 1e-16, which moves the root by far less than
    :data:`BETTING_FLOAT_SLACK` (its slope is -sum lambda_i/(1 + lambda_i (h_i - m)) <= -N lambda_min);
    checked against the exact version in ``tests/feature_smoothing/test_betting.py``.
    """
    h = np.asarray(h, np.float64)
    alpha = Fraction(alpha)
    lam = betting_bets(h, alpha)
    low = _float_root(h, lam, _log_inverse(alpha))
    return np.maximum(0.0, low - BETTING_FLOAT_SLACK)


def score_lower_betting(cosines, alpha) -> Fraction:
    """Clause FS.12: the betting lower confidence bound on S at level 1 - alpha, rounded down to 10^-30.

    With h_j = (1 + c_j)/2 in the order given and the bets of :func:`betting_bets`, the capital
    K(m) = prod_j (1 + lambda_j (h_j - m)) is non-increasing in m and, at m = S(x), a non-negative
    martingale with E K = 1, so P(K(S) >= 1/alpha) <= alpha (Markov; Ville for the whole sequence).
    The bound is L = inf{m in [0, 1] : K(m) < 1/alpha}; the returned value m_lo satisfies K(m_lo) >=
    1/alpha, verified in ball arithmetic, hence m_lo <= L (or is 0).  With probability >= 1 - alpha
    over the samples, S(x) >= the returned value.
    """
    c = check_cosines(cosines)
    alpha = alpha_fraction(alpha)
    n = int(c.size)
    if n > BETTING_MAX_SAMPLES:
        raise InvalidParameterError(f"the betting bound accepts at most {BETTING_MAX_SAMPLES} samples, got {n}")
    h_float = (1.0 + c) / 2  # float approximations, used only to choose the bets and a starting point
    lam = betting_bets(h_float, alpha)
    guess = float(_float_root(h_float, lam, _log_inverse(alpha)))
    scale = 10**DECIMALS
    for bits in precisions():
        with working_precision(bits):
            threshold = to_arb(1 / alpha)
            lam_arb = [arb(float(v)) for v in lam]  # floats are exact balls
            h_arb = [(1 + arb(float(v))) / 2 for v in c]  # exact h_j (c_j exact, halving exact)

            def capital(m: Fraction) -> arb:
                mm = to_arb(m)
                k = arb(1)
                for lj, hj in zip(lam_arb, h_arb):
                    k *= 1 + lj * (hj - mm)
                return k

            def verified(m: Fraction) -> bool:
                return bool(capital(m) >= threshold)  # true only if every point of the ball is

            if not verified(Fraction(0)):
                if capital(Fraction(0)) < threshold:
                    return Fraction(0)  # K(0) < 1/alpha: L = 0
                continue  # undecided at this precision
            # Newton on g(m) = log K(m) - ln(1/alpha) (concave, decreasing) from the float root, in
            # midpoint arithmetic: only a good candidate; soundness rests on the verification below
            m = Fraction(guess)
            for _ in range(4):
                mm = to_arb(m)
                k, slope = arb(1), arb(0)
                for lj, hj in zip(lam_arb, h_arb):
                    factor = 1 + lj * (hj - mm)
                    k *= factor
                    slope -= lj / factor
                g = k.log() - threshold.log()
                step = endpoint_fraction(arb((g / slope).mid()))
                m = min(Fraction(1), max(Fraction(0), m - step))
                if abs(step) < Fraction(1, 10**34):
                    break
            cand = Fraction(math.floor(m * scale), scale)
            gap = Fraction(1, scale)
            while cand > 0 and not verified(cand):
                cand = max(Fraction(0), Fraction(math.floor((cand - gap) * scale), scale))
                gap *= 4
            return cand
    raise ArithmeticError("betting bound: the capital at 0 could not be decided")
