"""Clause NP.2: the ground-truth attack oracle -- concrete classifiers, every attacked input.

Whenever Theorem 1 certifies (with the exact label probabilities as p_A, p_B),
no M' in S(M, R) may change the ensemble's label; the closed-form bounds Eq. 4
and Eq. 5 and the exact NP.1 worst case must hold on every M'.  Expected values
come from the definitions (brute force over all strings), hand computations in
comments, or the independent reference path.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from mmcert_verified.enumeration.attacks import attacked_inputs, modality_neighbours
from mmcert_verified.enumeration.classifiers import (
    HashClassifier,
    LinearVoteClassifier,
    TorchLinearClassifier,
    TriggerClassifier,
)
from mmcert_verified.enumeration.ground_truth import audit
from mmcert_verified.enumeration.label_distribution import LabelCounter, label_counts_by_enumeration
from mmcert_verified.enumeration.neyman_pearson import worst_case
from mmcert_verified.errors import EnumerationTooLargeError, InvalidParameterError
from mmcert_verified.reference.theorem1 import SubsampleMasses, decide
from mmcert_verified.threat_model import Attack, Budget, Method, Setting, attacked_sizes

# --- strategies --------------------------------------------------------------------------


@st.composite
def classifier(draw, classes: int, alphabet: int, modalities: int, torch_slots=None):
    """One of the concrete base classifiers, biased towards label 0 often enough to certify."""
    kinds = ["hash", "linear", "trigger"] + (["torch"] if torch_slots is not None else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "hash":
        return HashClassifier(classes, draw(st.integers(0, 2**32)), draw(st.integers(0, classes - 1)),
                              draw(st.sampled_from([50, 90, 97, 100])))
    if kind == "trigger":
        return TriggerClassifier(classes, draw(st.integers(0, alphabet - 1)), draw(st.integers(1, 2)))
    if kind == "torch":
        return TorchLinearClassifier(torch_slots, alphabet, classes, draw(st.integers(0, 2**31)),
                                     draw(st.sampled_from([0.0, 2.0, 6.0])))
    small = st.integers(-2, 2)
    weights = tuple(
        tuple(tuple(draw(small) for _ in range(classes)) for _ in range(alphabet)) for _ in range(modalities)
    )
    bias = tuple(draw(st.sampled_from([0, 3, 8])) if l == 0 else draw(small) for l in range(classes))
    return LinearVoteClassifier(classes, bias, weights)


@st.composite
def ground_truth_instance(draw, max_t: int = 3, max_attacked: int = 400, torch: bool = False):
    """(M, setting, budget, classifier, alphabet), small enough to walk all of S(M, R)."""
    t = draw(st.integers(1, max_t))
    alphabet = draw(st.integers(2, 3))
    max_n = 4 if t < 3 else 3
    n = tuple(draw(st.lists(st.integers(1, max_n), min_size=t, max_size=t)))
    m = tuple(tuple(draw(st.lists(st.integers(0, alphabet - 1), min_size=ni, max_size=ni))) for ni in n)
    method = draw(st.sampled_from(list(Method)))
    if method is Method.MMCERT:
        k = tuple(draw(st.integers(1, ni)) for ni in n)
    else:
        k = (draw(st.integers(1, min(sum(n), 4))),)
    att = tuple(draw(st.sampled_from(list(Attack))) for _ in range(t))
    r = tuple(draw(st.integers(0, 2 if a is Attack.ADD else min(2, ni))) for ni, a in zip(n, att))
    setting, budget = Setting(n, k, method), Budget(r, att)
    try:
        attacked_sizes(setting, budget)
    except InvalidParameterError:
        assume(False)
    size = math.prod(len(modality_neighbours(mi, ri, a, alphabet)) for mi, ri, a in zip(m, r, att))
    assume(size <= max_attacked)
    classes = draw(st.integers(2, 3))
    slots = None
    if torch:
        max_len = [ni + (ri if a is Attack.ADD else 0) for ni, ri, a in zip(n, r, att)]
        slots = setting.k if method is Method.MMCERT else tuple(min(k[0], ml) for ml in max_len)
    g = draw(classifier(classes, alphabet, t, slots))
    return m, setting, budget, g, alphabet


def _check(report):
    assert report.sound, report.violations[:3]
    if report.certified:
        assert report.min_margin > 0


# --- S(M, R) ----------------------------------------------------------------------------


def _is_subsequence(short, long) -> bool:
    it = iter(long)
    return all(v in it for v in short)


@given(st.integers(2, 3), st.lists(st.integers(0, 2), min_size=1, max_size=4), st.integers(0, 2),
       st.sampled_from(list(Attack)))
def test_modality_neighbours_by_brute_force(alphabet, values, r, attack):
    """Expected: every string over the alphabet, filtered by the attack's definition (clause S2)."""
    m = tuple(v % alphabet for v in values)
    n = len(m)
    got = modality_neighbours(m, r, attack, alphabet)
    if attack is Attack.MODIFY:
        want = {s: sum(a != b for a, b in zip(s, m)) for s in itertools.product(range(alphabet), repeat=n)}
        want = {s: d for s, d in want.items() if d <= r}
    elif attack is Attack.ADD:
        want = {s: len(s) - n for j in range(r + 1) for s in itertools.product(range(alphabet), repeat=n + j)
                if _is_subsequence(m, s)}
    else:
        want = {s: n - len(s) for j in range(min(r, n) + 1) for s in itertools.product(range(alphabet), repeat=n - j)
                if _is_subsequence(s, m)}
    assert got == want


def test_attacked_input_limit_names_the_limit():
    # modify <= 2 of 4 ternary values: 1 + 4*2 + 6*4 = 33 per modality; 33**2 = 1089 > 1000
    b = Budget((2, 2), ("modify",))
    with pytest.raises(EnumerationTooLargeError, match="limit of 1000"):
        list(attacked_inputs(((0, 1, 2, 0), (0, 1, 2, 0)), b, 3, limit=1000))
    assert sum(1 for _ in attacked_inputs(((0, 1, 2, 0), (0, 1, 2, 0)), b, 3, limit=1089)) == 1089


# --- exact label probabilities ------------------------------------------------------------


@given(ground_truth_instance(max_attacked=10**6))
def test_fast_label_counts_equal_the_literal_enumeration(inst):
    """LabelCounter (per-modality counts + contraction) = one classifier call per sub-sample."""
    m, setting, budget, g, alphabet = inst
    max_len = [ni + (ri if a is Attack.ADD else 0) for ni, ri, a in zip(setting.n, budget.r, budget.attack)]
    counter = LabelCounter(setting, g, alphabet, max_len)
    for m_prime in itertools.islice(attacked_inputs(m, budget, alphabet, limit=10**6), 5):
        assert counter.counts(m_prime.values) == label_counts_by_enumeration(m_prime.values, setting, g)


def test_label_counts_worked_example():
    # MMCert, n = (3, 2), k = (1, 1): 3 * 2 = 6 sub-samples; the trigger (value 1) is at
    # position 2 of modality 1 and position 1 of modality 2, so a sub-sample avoids it in
    # 2 * 1 = 2 cases: label 0 twice, label 1 four times.
    g = TriggerClassifier(2, trigger=1)
    counts = label_counts_by_enumeration(((0, 0, 1), (1, 0)), Setting((3, 2), (1, 1)), g)
    assert (counts.counts, counts.total) == ((2, 4), 6)
    # ablation, k = 2 of the 5 pooled values: C(5,2) = 10; avoiding both 1s: C(3,2) = 3.
    counts = label_counts_by_enumeration(((0, 0, 1), (1, 0)), Setting((3, 2), (2,), "ablation"), g)
    assert (counts.counts, counts.total) == ((3, 7), 10)


# --- the oracle ---------------------------------------------------------------------------


UNDEFINED_ABLATION = (  # found by the bulk run: deleting without adding leaves 3 < k = 4 pooled elements
    # (now rejected as invalid input by attacked_sizes, spec clause S4)
    ((0,), (0,), (0, 0)), Setting((1, 1, 2), (4,), "ablation"),
    Budget((0, 1, 1), ("modify", "add", "delete")), HashClassifier(2, 0, 0, 50), 2,
)


@given(ground_truth_instance())
@example((((0, 0, 0, 0),), Setting((4,), (1,)), Budget((1,), ("add",)), TriggerClassifier(2, 1), 2))
def test_ground_truth_never_finds_an_unsound_certificate(inst):
    """Quick variant of the acceptance test: every M' in S(M, R), zero violations."""
    m, setting, budget, g, alphabet = inst
    _check(audit(m, setting, budget, g, alphabet))


@given(ground_truth_instance(max_t=2, max_attacked=150, torch=True))
def test_ground_truth_with_torch_models(inst):
    m, setting, budget, g, alphabet = inst
    _check(audit(m, setting, budget, g, alphabet))


@pytest.mark.slow
def test_ground_truth_over_thousands_of_instances():
    """Acceptance (issue 4): thousands of generated instances, zero unsound certificates.

    Also guards against a vacuous pass: a fair share of the instances must
    certify a non-trivial budget (r != 0) for the check to mean anything.
    """
    stats: Counter = Counter()

    @settings(max_examples=3000)
    @given(ground_truth_instance(max_attacked=300))
    def run(inst):
        m, setting, budget, g, alphabet = inst
        report = audit(m, setting, budget, g, alphabet)
        _check(report)
        stats["instances"] += 1
        stats["attacked"] += report.attacked
        if report.certified:
            stats["certified"] += 1
            stats["certified_attacked"] += any(budget.r)

    run()
    print(f"ground-truth bulk run: {dict(stats)}")
    assert stats["instances"] >= 2000, stats
    assert stats["certified_attacked"] >= 200, stats


def test_partial_attack_below_k_is_invalid_input():
    """Ablation with additions and deletions: a partial attack (deletions only) can leave fewer
    than k pooled elements, where the ensemble is undefined (found by the bulk run). Spec clause S4
    makes such a budget invalid input: 1 + 1 + 2 - 1 deleted = 3 < k = 4."""
    _m, setting, budget, _g, _alphabet = UNDEFINED_ABLATION
    with pytest.raises(InvalidParameterError, match="pooled elements, fewer than k"):
        attacked_sizes(setting, budget)
    # the same budget without the deletion is valid
    attacked_sizes(setting, Budget((0, 1, 0), budget.attack))


@pytest.mark.parametrize("method, k", [(Method.MMCERT, (1, 2)), (Method.ABLATION, (2,))])
@pytest.mark.parametrize("attack", ["modify", "add", "delete"])
def test_trigger_classifier_attains_theorem1_exactly(method, k, attack):
    """With p_A = 1 (no trigger in M) the attacker inserting r triggers makes every sub-sample
    that holds one vote B: Pr(Y=A) = P_e/P_n', Pr(Y=B) = 1 - P_e/P_n' (definition of P_e).
    Theorem 1 gives the same (a = P_n, b = 0 in Eq. 4 and 5), and so does NP.1: the bound
    is attained by a concrete classifier and input, zero slack."""
    setting = Setting((3, 3), k, method)
    budget = Budget((1, 1), attack)
    report = audit(((0, 0, 0), (0, 0, 0)), setting, budget, TriggerClassifier(2, trigger=1), alphabet=2)
    masses = SubsampleMasses.of(attacked_sizes(setting, budget))
    expected = 2 * Fraction(masses.p_e, masses.p_n_prime) - 1
    assert (report.p_a, report.p_b) == (1, 0)
    assert report.min_margin == expected == report.decision.gap
    assert worst_case(setting, budget, 1, 0).gap == expected
    assert report.sound


def test_equality_in_theorem1_would_be_unsound():
    """Clause T1.3: the condition must be strict (the paper's display writes Eq. 4 >= Eq. 5).

    n = 4, k = 1, modify r = 1: P_n = P_n' = 4, P_e = 3, threshold 4 + 4 - 6 = 2.
    g votes 1 when the kept value is 0, else 0; on M = (0, 0, 0, 1): A = 1, p_A = 3/4,
    p_B = 1/4, so a = 3, b = 1, a - b = 2 = threshold: Eq. 4 = (3-4+3)/4 = 1/2 equals
    Eq. 5 = (1+4-3)/4 = 1/2.  Modifying one 0 into 1 gives M' = (0, 0, 1, 1): a 2-2 tie,
    which the lowest-label rule resolves to 0 != A.  Equality must not certify."""
    setting, budget = Setting((4,), (1,)), Budget((1,), "modify")
    g = TriggerClassifier(2, trigger=0)
    report = audit(((0, 0, 0, 1),), setting, budget, g, alphabet=2)
    assert (report.label, report.p_a, report.p_b) == (1, Fraction(3, 4), Fraction(1, 4))
    assert report.decision.a - report.decision.b == report.decision.threshold == 2
    assert report.decision.gap == 0 and not report.certified
    assert report.min_margin == 0 and report.changed > 0
    assert label_counts_by_enumeration(((0, 0, 1, 1),), setting, g).ensemble_label == 0
    assert report.sound


def test_positional_classifier_breaks_deletion_certificates():
    """Documented caveat (docs/enumeration.md): Theorem 1's e_i counts *elements*; a base
    classifier that sees absolute positions is outside that model under deletion.

    n = 4, k = 1, delete r = 1: P_n = 4, P_n' = P_e = 3, threshold 4 + 3 - 6 = 1, and with
    p_A = 1 (a = 4, b = 0) Theorem 1 certifies.  g labels A exactly the four (position,
    value) views of M = (1, 0, 1, 0); deleting the first element shifts every index, so
    all three views of M' = (0, 1, 0) are new and vote B."""
    m = ((1, 0, 1, 0),)
    seen = {(((p, v),),) for p, v in enumerate(m[0])}  # one modality, one (index, value) kept

    class Positional:
        classes = 2

        def classify(self, views):
            return [0 if v in seen else 1 for v in views]

    setting = Setting((4,), (1,))
    before = label_counts_by_enumeration(m, setting, Positional(), positional=True)
    assert before.probabilities == (1, 0)
    assert decide(Fraction(1), Fraction(0), SubsampleMasses.of(attacked_sizes(setting, Budget((1,), "delete")))).certified
    after = label_counts_by_enumeration(((0, 1, 0),), setting, Positional(), positional=True)
    assert after.ensemble_label == 1  # the "certified" label flipped


@given(ground_truth_instance(max_t=2, max_attacked=60))
def test_positional_views_are_sound_under_modification(inst):
    """Modification keeps every index, so even a position-aware classifier is covered."""
    m, setting, budget, g, alphabet = inst
    budget = Budget(budget.r, ("modify",) * len(budget.r))
    assume(all(ri <= ni for ri, ni in zip(budget.r, setting.n)))

    def positional(values):
        return label_counts_by_enumeration(values, setting, _Flatten(g), positional=True)

    base = positional(m)
    a = base.ensemble_label
    p = base.probabilities
    decision = decide(p[a], max(p[l] for l in range(len(p)) if l != a),
                      SubsampleMasses.of(attacked_sizes(setting, budget)))
    assume(decision.certified)
    for m_prime in attacked_inputs(m, budget, alphabet):
        assert positional(m_prime.values).ensemble_label == a


class _Flatten:
    """Adapts a value classifier to (position, value) views and makes the positions matter:
    the sum of the kept indices shifts the label (mod the number of classes)."""

    def __init__(self, g):
        self.g = g
        self.classes = g.classes

    def classify(self, views):
        out = []
        for view in views:
            pos = sum(p for part in view for p, _ in part)
            vals = tuple(tuple(v for _, v in part) for part in view)
            out.append((self.g.classify([vals])[0] + pos) % self.classes)
        return out
