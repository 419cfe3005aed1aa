"""Differential tests: a run's classification table with the fast brackets against the exact reference
(spec F.1, F.4, T1.4, R1; ``pipeline.certifier.ClassificationTable``, ``fast.classify.RunBrackets``).

``ClassificationTable(engine="auto")`` decides what the fast engine's brackets decide and computes the
exact bounds only for the rest; its verdicts per budget and radii per ratio must be exactly the reference
engine's ``certify`` and ``radius`` (every bound method), and with ``engine="reference"`` too.

* soundness (one-sided, zero slack): never certified where the reference rejects, never a radius above
  the reference's;
* exactness: identical verdicts and radii;
* the fast path decides: on clear-cut counts no exact bound is computed at all.

Domains: T = 1..3 modalities, n_i in [2, 5000], k_i in [1, 50] (or one pooled k), attacks per modality,
1-4 budgets of one attack, 1-2 ratios, C = 1..6, N in [1, 300] (plus N = 1000), counts from unanimous
to exact ties.  Moderate sizes keep the reference's Clopper-Pearson cheap.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.pipeline.certifier import ClassificationTable
from mmcert_verified.reference import certify as ref
from mmcert_verified.sampling.modality import Modality
from mmcert_verified.sampling.plan import SamplingPlan
from mmcert_verified.threat_model import Budget
from pinned_examples import given_with_examples

ATTACKS = ["modify", "add", "delete"]
BOUNDS = ["bonferroni", "complement", "combined"]


@st.composite
def tables(draw):
    """(plan, budgets, ratios, alpha, bound, counts list) of one run."""
    T = draw(st.integers(1, 3))
    method = draw(st.sampled_from(["mmcert", "ablation"]))
    n = [draw(st.one_of(st.integers(2, 60), st.integers(2, 5000))) for _ in range(T)]
    k = [draw(st.integers(1, min(ni, 50))) for ni in n] if method == "mmcert" else [draw(st.integers(1, min(sum(n), 50)))]
    attacks = tuple(draw(st.sampled_from(ATTACKS)) for _ in range(T))
    plan = SamplingPlan(tuple(Modality.sequence(f"m{i}", 1, ni) for i, ni in enumerate(n)), tuple(k), method)
    rs = draw(st.lists(st.lists(st.integers(0, 6), min_size=T, max_size=T), min_size=1, max_size=4))
    budgets = [Budget(tuple(r), attacks) for r in rs]
    ratios = draw(st.lists(st.lists(st.integers(0, 3), min_size=T, max_size=T).filter(any), max_size=2))
    alpha = ref.alpha_fraction(min(10.0 ** draw(st.floats(-8.0, math.log10(0.5))), 0.5))
    bound = draw(st.sampled_from(BOUNDS))
    C = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    counts = []
    for _ in range(draw(st.integers(1, 4))):
        N = draw(st.one_of(st.integers(1, 300), st.just(1000)))
        conc = draw(st.sampled_from([0.02, 0.3, 3.0]))
        counts.append(tuple(int(x) for x in rng.multinomial(N, rng.dirichlet([conc] * C))))
    if C >= 2 and draw(st.booleans()):  # an exact tie for the top (V1: the lowest index wins)
        a = draw(st.integers(1, 50))
        counts.append((a, a) + (0,) * (C - 2))
    return plan, budgets, ratios, alpha, bound, counts


def reference_answers(plan, budgets, ratios, alpha, bound, counts):
    s = plan.setting
    verdicts = tuple(ref.certify(list(counts), alpha, s.n, s.k, b.r, b.attack, s.method, bound).certified
                     for b in budgets)
    radii = tuple(ref.radius(list(counts), alpha, s.n, s.k, ratio, budgets[0].attack, s.method, bound).radius
                  for ratio in ratios)
    return verdicts, radii


def both(case):
    plan, budgets, ratios, alpha, bound, counts = case
    try:
        fast = ClassificationTable(plan, budgets, ratios, alpha, bound=bound, engine="auto")
        exact = ClassificationTable(plan, budgets, ratios, alpha, bound=bound, engine="reference")
    except InvalidParameterError:  # a budget that does not fit the sizes, or an unbounded ratio
        assume(False)
    return fast, exact


RAVDESS = (SamplingPlan((Modality.sequence("v", 1, 108), Modality.sequence("a", 1, 79380)), (5, 1000)),
           [Budget((r, r), ("modify", "modify")) for r in (0, 1, 2, 3)], [(1, 1), (1, 2)],
           ref.alpha_fraction("0.001"), "bonferroni", [(100, 0, 0, 0), (60, 30, 10, 0), (51, 49, 0, 0), (25, 25, 50, 0)])
SMALL = (SamplingPlan((Modality.sequence("a", 1, 12), Modality.sequence("b", 1, 30)), (3, 5)),
         [Budget((0, 0), ("add", "delete")), Budget((1, 2), ("add", "delete"))], [(1, 2), (2, 1)],
         ref.alpha_fraction("0.01"), "complement", [(1000, 10, 0), (300, 0, 0), (7, 7, 0)])


@given_with_examples(tables(), RAVDESS, SMALL)
def test_table_never_more_permissive_than_reference(case):
    # soundness, zero slack: no verdict True where the reference says False, no radius above its radius
    plan, budgets, ratios, alpha, bound, counts = case
    fast, _ = both(case)
    for c in counts:
        _, verdicts, radii = fast.certify(c)
        want_v, want_r = reference_answers(plan, budgets, ratios, alpha, bound, c)
        assert not any(v and not w for v, w in zip(verdicts, want_v))
        assert all(r is None or (w is not None and r <= w) for r, w in zip(radii, want_r))


@given_with_examples(tables(), RAVDESS, SMALL)
def test_table_identical_to_reference_with_either_engine(case):
    plan, budgets, ratios, alpha, bound, counts = case
    fast, exact = both(case)
    for c in counts:
        want_v, want_r = reference_answers(plan, budgets, ratios, alpha, bound, c)
        label, verdicts, radii = fast.certify(c)
        assert (verdicts, radii) == (want_v, want_r)
        assert exact.certify(c) == (label, want_v, want_r)
        event("certified: " + ("none" if not any(want_v) else "all" if all(want_v) else "some"))


def test_clear_cut_counts_compute_no_exact_bound(monkeypatch):
    # the fast brackets decide the reference model's typical counts themselves: label_bounds (the exact
    # Clopper-Pearson, ~30 ms a pair) is never called for them; with engine="reference" it is, once per triple
    import mmcert_verified.reference.certify as refmod

    calls = []
    real = refmod.label_bounds
    monkeypatch.setattr(refmod, "label_bounds", lambda *a, **k: calls.append(a) or real(*a, **k))
    plan, budgets, ratios, alpha, bound, counts = RAVDESS
    clear = [(100, 0, 0, 0), (60, 30, 10, 0), (0, 0, 97, 3)]
    fast = ClassificationTable(plan, budgets, ratios, alpha, bound=bound)
    results = [fast.certify(c) for c in clear]
    assert calls == []
    exact = ClassificationTable(plan, budgets, ratios, alpha, bound=bound, engine="reference")
    assert [exact.certify(c) for c in clear] == results
    assert len(calls) == len(clear)


def test_unknown_engine_is_refused():
    plan, budgets, ratios, alpha, bound, _ = SMALL
    with pytest.raises(InvalidParameterError, match="engine must be auto, fast or reference"):
        ClassificationTable(plan, budgets, ratios, alpha, engine="fastest")



def test_undecidable_brackets_are_handed_to_the_exact_bounds(monkeypatch):
    # F.4 / R1: where [G_lo, G_hi] straddles a budget's Delta (or the radius between t_sure and t_no is
    # open), the table must not answer from the floats.  The brackets are widened by 1/4 here (a stand-in
    # for float error), so verdicts and radii near the thresholds must come from the exact bounds, and
    # still equal the reference's
    import dataclasses

    import mmcert_verified.fast.classify as fc
    import mmcert_verified.reference.certify as refmod

    real = fc.gap_bounds

    def wide(*args, **kwargs):
        g = real(*args, **kwargs)
        return dataclasses.replace(g, lo=g.lo - 0.25, hi=g.hi + 0.25)

    monkeypatch.setattr(fc, "gap_bounds", wide)
    calls = []
    real_bounds = refmod.label_bounds
    monkeypatch.setattr(refmod, "label_bounds", lambda *a, **k: calls.append(a) or real_bounds(*a, **k))
    plan, _, ratios, alpha, bound, counts = RAVDESS
    budgets = [Budget((t, t), ("modify", "modify")) for t in range(8)]
    table = ClassificationTable(plan, budgets, ratios, alpha, bound=bound)
    for c in counts:
        _, verdicts, radii = table.certify(c)
        assert (verdicts, radii) == reference_answers(plan, budgets, ratios, alpha, bound, c)
    assert calls  # the widened brackets left questions open, and the exact bounds answered them
    assert any(r is not None and r > 0 for c in counts for r in table.certify(c)[2])  # radii above 0 occur
