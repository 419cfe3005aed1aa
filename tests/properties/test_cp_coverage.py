"""Coverage by simulation: the one-sided Clopper-Pearson bounds cover, the printed Eq. 7 does not.

For a true p and N trials, draw X ~ Bin(N, p) many times (numpy, fixed seed) and
count the draws whose bound misses p (upper bound: U(X) < p; lower bound: L(X) > p).
A bound at one-sided level t must miss with probability <= t.

Decision rule (the same for every bound, so the test would reject Eq. 7):
with M draws, if the true miss rate were exactly t the number of misses would be
Bin(M, t); we reject when misses exceed its (1 - 1e-6)-quantile (scipy.stats.binom.ppf),
so a correct bound fails this test with probability <= 1e-6 per case (and never with
the fixed seed, which makes the test deterministic).

The printed Eq. 7 ("upper" bound = (1 - t)-quantile of Beta(N_B, N - N_B + 1)) misses
with probability t + Pr[X = s] just above its value at X = s (hand: at p slightly above
Eq7(s), Pr_p[Eq7(X) < p] = Pr_p[X <= s] = Pr_p[X <= s - 1] + Pr_p[X = s], and
Pr[X <= s - 1] = 1 - I_p(s, N - s + 1) ~ t there); for X = 0 it is a point mass at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import beta, binom

from mmcert_verified.reference.clopper_pearson import cp_lower, cp_upper

SEED = 20240328  # fixed: the simulation is deterministic
TRIALS = 20000
FALSE_ALARM = 1e-6  # chance that a correct bound fails one case (if not for the fixed seed)


def critical_misses(trials: int, level: float) -> int:
    """Largest miss count compatible with a true miss rate <= level (one-sided, 1e-6)."""
    return int(binom.ppf(1 - FALSE_ALARM, trials, level))


def cp_upper_table(N: int, level: float) -> np.ndarray:
    return np.array([float(cp_upper(x, N, level)) for x in range(N + 1)])


def cp_lower_table(N: int, level: float) -> np.ndarray:
    return np.array([float(cp_lower(x, N, level)) for x in range(N + 1)])


def eq7_table(N: int, level: float) -> np.ndarray:
    # paper Eq. 7 as printed: Beta(1 - t; N_B, N - N_B + 1); Beta(0, .) is a point mass at 0
    return np.array([0.0] + [beta.ppf(1 - level, x, N - x + 1) for x in range(1, N + 1)])


def upper_misses(table: np.ndarray, N: int, p: float, rng: np.random.Generator) -> int:
    x = rng.binomial(N, p, size=TRIALS)
    return int(np.count_nonzero(table[x] < p))


def lower_misses(table: np.ndarray, N: int, p: float, rng: np.random.Generator) -> int:
    x = rng.binomial(N, p, size=TRIALS)
    return int(np.count_nonzero(table[x] > p))


# Cases: small N, p near 0 (where Eq. 7 breaks), and p just above a bound's value at some
# x (the worst case for any monotone bound: miss rate jumps there).
N_VALUES = [10, 30]
LEVELS = [0.05, 0.01]


def _grid(N: int, table: np.ndarray) -> list[float]:
    ps = [0.001, 0.02, 0.1, 0.3, 0.5, 0.9]
    # just above the table's values (worst case for the upper bound), away from 0 and 1
    ps += [float(v) * (1 + 1e-9) for v in table[: N // 3] if 0 < v < 1]
    return ps


@dataclass(frozen=True)
class Cell:
    """One case of the grid: N trials at one-sided level t, the three bounds tabulated at x = 0..N
    (index x), and the decision rule's critical miss count at that level."""

    N: int
    level: float
    lower: np.ndarray
    upper: np.ndarray
    eq7: np.ndarray
    critical: int


@pytest.fixture(scope="module")
def tables() -> dict[tuple[int, float], Cell]:
    # 2 N values x 2 levels x (N + 1) bounds each side: ~170 reference calls, cached
    out = {}
    for N in N_VALUES:
        for level in LEVELS:
            out[N, level] = Cell(N, level, cp_lower_table(N, level), cp_upper_table(N, level), eq7_table(N, level),
                                 critical_misses(TRIALS, level))
    return out


@pytest.fixture(params=[(N, level) for level in LEVELS for N in N_VALUES],
                ids=[f"{level}-{N}" for level in LEVELS for N in N_VALUES])
def cell(request, tables) -> Cell:
    """Each (N, level) of the grid in turn (ids ``level-N``)."""
    return tables[request.param]


def test_cp_upper_covers(cell):
    N, up, crit = cell.N, cell.upper, cell.critical
    rng = np.random.default_rng(SEED)
    worst = 0
    for p in _grid(N, up) + _grid(N, cell.eq7):
        m = upper_misses(up, N, p, rng)
        worst = max(worst, m)
        assert m <= crit, f"CP upper bound missed p={p} in {m}/{TRIALS} draws (critical {crit})"
    # the grid does reach the worst case: some p brings misses close to level * TRIALS
    assert worst >= 0.5 * cell.level * TRIALS


def test_cp_lower_covers(cell):
    N, low, crit = cell.N, cell.lower, cell.critical
    rng = np.random.default_rng(SEED + 1)
    ps = [0.001, 0.1, 0.5, 0.9, 0.999] + [float(v) * (1 - 1e-9) for v in low[-(N // 3):] if 0 < v < 1]
    for p in ps:
        m = lower_misses(low, N, p, rng)
        assert m <= crit, f"CP lower bound missed p={p} in {m}/{TRIALS} draws (critical {crit})"


def test_eq7_fails_the_same_coverage_test(cell):
    # The harness of test_cp_upper_covers, applied to the printed Eq. 7, rejects it:
    # (1) p near 0: X = 0 is likely and Eq. 7 then says p_B <= 0.
    N, level, eq7, crit = cell.N, cell.level, cell.eq7, cell.critical
    rng = np.random.default_rng(SEED)
    p = 0.02
    m = upper_misses(eq7, N, p, rng)
    # hand: misses whenever X = 0, probability 0.98^N = 0.817 (N=10), 0.545 (N=30)
    assert m > crit
    assert abs(m / TRIALS - 0.98**N) < 0.02
    # (2) p just above Eq7(s) for s >= 1 (no degenerate Beta involved): miss rate ~ t + Pr[X = s]
    s = max(1, N // 6)
    p = float(eq7[s]) * (1 + 1e-9)
    m = upper_misses(eq7, N, p, rng)
    expected = binom.cdf(s, N, p)  # = Pr[X <= s], the probability of a miss (hand, above)
    assert expected > 2 * level  # the excess Pr[X = s] is large for small N (at least t here)
    assert m > crit
    assert abs(m / TRIALS - expected) < 0.02


def test_correct_bound_at_the_same_points_is_not_rejected(tables):
    # Control for the previous test: at exactly the p values that break Eq. 7, the correct
    # upper bound passes (same seed, same trials, same critical value).
    for c in tables.values():  # every (N, level) of the grid
        rng = np.random.default_rng(SEED)
        s = max(1, c.N // 6)
        for p in (0.02, float(c.eq7[s]) * (1 + 1e-9)):
            assert upper_misses(c.upper, c.N, p, rng) <= c.critical


def test_exact_miss_probability_at_worst_points(tables):
    # Simulation-free companion: the exact miss probability of the CP upper bound just above
    # its value U(x) is Pr_{U(x)}[X <= x] = t (CP.2) -- check it is <= t to float accuracy
    # (scipy binom.cdf; 1e-12 absolute) -- and for Eq. 7 it is t + Pr[X = x] > t.
    for c in tables.values():  # every (N, level) of the grid
        for x in range(c.N):
            assert binom.cdf(x, c.N, c.upper[x]) <= c.level + 1e-12
        for x in range(1, c.N):
            assert binom.cdf(x, c.N, c.eq7[x]) > c.level + 1e-6
