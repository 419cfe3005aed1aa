"""Properties of the reference certifier (clauses CP.4, T1, R1), checked with Hypothesis.

Oracles are the engine itself under a transformation whose effect the theorem fixes:
* a smaller budget (componentwise, any attack mix) never loses a certificate;
* permuting the modalities (n, k, r, attack together) changes nothing;
* moving one vote from the runner-up to the winner never loses a certificate;
* L <= N_A/N and N_B/N <= U;
* the baseline with one modality is MMCert with one modality;
* radius t is certified, t + 1 is not (or is no longer a valid budget).

Sizes are kept moderate so each example is fast (N <= 1000, n <= 10^5, k <= 300).
Cheap properties (pure Theorem 1) draw the probability bounds directly; the ones that
need Clopper-Pearson draw vote counts (each new bound costs ~0.1-0.4 s).
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.certify import LabelBounds, certified_at, certify, label_bounds, radius
from mmcert_verified.reference.theorem1 import SubsampleMasses, decide
from mmcert_verified.threat_model import Attack, Budget, Method, Setting, attacked_sizes
from mmcert_verified.votes import Votes

#: tests that compute Clopper-Pearson bounds run a quarter of the profile's examples
#: (the "ci" profile still raises them: 250 // 4 = 62)
FEW = max(10, settings.default.max_examples // 4)

ATTACKS = st.sampled_from([a.value for a in Attack])


@st.composite
def modalities(draw, max_t: int = 3):
    """(n, k, r, attacks) for T = 1..max_t modalities, biased towards certifiable budgets."""
    T = draw(st.integers(1, max_t))
    n, k, r, att = [], [], [], []
    for _ in range(T):
        n_i = draw(st.integers(1, 200) | st.integers(1, 10**5))
        k_i = draw(st.integers(1, min(n_i, 300)))
        a_i = draw(ATTACKS)
        if a_i == "add":
            r_i = draw(st.integers(0, 5) | st.integers(0, 500))
        else:
            hi = n_i - k_i if a_i == "delete" else n_i  # deletion must leave k_i
            r_i = draw(st.integers(0, min(hi, 5)) | st.integers(0, hi))
        n.append(n_i)
        k.append(k_i)
        r.append(r_i)
        att.append(a_i)
    return tuple(n), tuple(k), tuple(r), tuple(att)


@st.composite
def easy_modalities(draw, max_t: int = 3):
    """Large n, small k and r: settings where certificates are common."""
    T = draw(st.integers(1, max_t))
    n = tuple(draw(st.integers(1000, 10**5)) for _ in range(T))
    k = tuple(draw(st.integers(1, 20)) for _ in range(T))
    r = tuple(draw(st.integers(0, 3)) for _ in range(T))
    att = tuple(draw(ATTACKS) for _ in range(T))
    return n, k, r, att


@st.composite
def votes_with_runner_up(draw):
    """Counts with N_B >= 1 (a vote can move from B to A), N <= 1000."""
    C = draw(st.integers(2, 5))
    nb = draw(st.integers(1, 300))
    na = nb + draw(st.integers(0, 1000 - 2 * nb) if 1000 - 2 * nb > 0 else st.just(0))
    rest = [draw(st.integers(0, nb)) for _ in range(C - 2)]
    assume(na + nb + sum(rest) <= 1000)
    out = [na, nb] + rest
    perm = draw(st.permutations(range(C)))
    return tuple(out[i] for i in perm)


@st.composite
def bounds(draw):
    """A (p_A lower, p_B upper) pair with p_A + p_B <= 1, p_A mostly near 1."""
    den = draw(st.sampled_from([10**3, 10**9, 10**40]))
    pa = Fraction(draw(st.integers(den // 2, den)), den)
    pb = Fraction(draw(st.integers(0, den - pa.numerator * den // pa.denominator)), den)
    return pa, pb


def make_bounds(pa: Fraction, pb: Fraction) -> LabelBounds:
    return LabelBounds(label=0, runner_up=1, p_a_lower=pa, p_b_upper=pb, level=Fraction(1, 1000))


@st.composite
def counts(draw, max_total: int = 1000, min_share: float = 0.0):
    """C = 2..5 vote counts summing to N <= max_total, the winner holding >= min_share of N."""
    C = draw(st.integers(2, 5))
    N = draw(st.integers(1, max_total))
    low = max(-(-N // C), int(min_share * N))
    top = draw(st.integers(low, N))  # the winner's votes, at least N / C
    rest = N - top
    out = [top]
    for i in range(C - 2):
        # leave enough for the remaining labels, none of which may exceed top
        c = draw(st.integers(max(0, rest - top * (C - 2 - i)), min(rest, top)))
        out.append(c)
        rest -= c
    out.append(rest)  # rest <= top by construction
    perm = draw(st.permutations(range(C)))
    return tuple(out[i] for i in perm)


# ---------------------------------------------------------------------------
# monotone in every r_i
# ---------------------------------------------------------------------------


@given(m=modalities() | easy_modalities(), pq=bounds(), data=st.data())
@example(m=((10,), (2,), (2,), ("modify",)), pq=(Fraction(9333, 10000), Fraction(667, 10000)), data=None)
def test_certificate_monotone_in_budget(m, pq, data):
    n, k, r, att = m
    setting = Setting(n, k)
    b = make_bounds(*pq)
    attacks = tuple(Attack(a) for a in att)
    ok = certified_at(b, setting, Budget(r, attacks))
    event(f"certified at r: {ok}")
    if data is None:
        smaller = tuple(max(0, x - 1) for x in r)
    else:
        smaller = tuple(data.draw(st.integers(0, x)) for x in r)
    if ok:
        assert certified_at(b, setting, Budget(smaller, attacks))
    # and one coordinate at a time, one step down (the sharpest single change)
    for i in range(len(r)):
        if r[i] > 0 and ok:
            step = tuple(x - (j == i) for j, x in enumerate(r))
            assert certified_at(b, setting, Budget(step, attacks))


@given(m=modalities(), pq=bounds())
def test_threshold_monotone_in_budget(m, pq):
    # the integer right-hand side P_n + P_n' - 2 P_e never decreases as one r_i grows,
    # as long as the condition can still be met (threshold < P_n); see spec/algebra.py
    n, k, r, att = m
    setting = Setting(n, k)
    attacks = tuple(Attack(a) for a in att)
    base = SubsampleMasses.of(attacked_sizes(setting, Budget(r, attacks)))
    for i in range(len(r)):
        bigger = tuple(x + (j == i) for j, x in enumerate(r))
        try:
            grown = SubsampleMasses.of(attacked_sizes(setting, Budget(bigger, attacks)))
        except InvalidParameterError:
            continue  # r_i + 1 is not a valid budget any more
        if grown.threshold < grown.p_n:  # still certifiable at the bigger budget
            assert grown.threshold >= base.threshold


# ---------------------------------------------------------------------------
# permutation invariance
# ---------------------------------------------------------------------------


@given(m=modalities(), pq=bounds(), data=st.data())
def test_permuting_modalities_changes_nothing(m, pq, data):
    n, k, r, att = m
    perm = data.draw(st.permutations(range(len(n))))

    def p(xs):
        return tuple(xs[i] for i in perm)

    m1 = SubsampleMasses.of(attacked_sizes(Setting(n, k), Budget(r, att)))
    m2 = SubsampleMasses.of(attacked_sizes(Setting(p(n), p(k)), Budget(p(r), p(att))))
    assert m1 == m2
    d1, d2 = decide(pq[0], pq[1], m1), decide(pq[0], pq[1], m2)
    assert d1 == d2


@settings(max_examples=FEW)
@given(c=counts(max_total=300), m=modalities(max_t=3), data=st.data())
def test_permuting_modalities_full_certify(c, m, data):
    n, k, r, att = m
    perm = data.draw(st.permutations(range(len(n))))

    def p(xs):
        return tuple(xs[i] for i in perm)

    c1 = certify(c, "0.001", n, k, r, list(att))
    c2 = certify(c, "0.001", p(n), p(k), p(r), list(p(att)))
    assert c1.certified == c2.certified
    assert c1.decision == c2.decision


# ---------------------------------------------------------------------------
# votes: moving one from B to A; bounds bracket the empirical frequency
# ---------------------------------------------------------------------------


@settings(max_examples=FEW)
@given(c=votes_with_runner_up(), m=easy_modalities(max_t=2) | modalities(max_t=2))
@example(c=(60, 40), m=((1000,), (10,), (3,), ("modify",)))
def test_moving_a_vote_from_b_to_a_never_uncertifies(c, m):
    n, k, r, att = m
    v = Votes(c)
    assert v.n_b > 0
    before = certify(c, "0.01", n, k, r, list(att))
    moved = list(c)
    moved[v.runner_up] -= 1
    moved[v.label] += 1
    after = certify(tuple(moved), "0.01", n, k, r, list(att))
    assert after.label == before.label  # the winner only gained
    assert after.bounds.p_a_lower >= before.bounds.p_a_lower
    assert after.bounds.p_b_upper <= before.bounds.p_b_upper
    event(f"certified before: {before.certified}")
    if before.certified:
        assert after.certified


@settings(max_examples=FEW)
@given(c=counts(), alpha=st.sampled_from(["0.001", "0.05", "0.5", "1e-9"]))
@example(c=(100, 0, 0, 0, 0, 0, 0), alpha="0.001")
def test_bounds_bracket_empirical_frequency(c, alpha):
    v = Votes(c)
    b = label_bounds(v, alpha)
    N = v.total
    assert b.p_a_lower <= Fraction(v.n_a, N)
    assert Fraction(v.n_b, N) <= b.p_b_upper
    assert 0 <= b.p_a_lower < 1 and 0 < b.p_b_upper <= 1
    assert b.level == Fraction(alpha) / v.classes


# ---------------------------------------------------------------------------
# baseline with T = 1 is MMCert with T = 1
# ---------------------------------------------------------------------------


@given(m=modalities(max_t=1), pq=bounds())
def test_ablation_single_modality_equals_mmcert(m, pq):
    n, k, r, att = m
    mm = SubsampleMasses.of(attacked_sizes(Setting(n, k, Method.MMCERT), Budget(r, att)))
    ab = SubsampleMasses.of(attacked_sizes(Setting(n, k, Method.ABLATION), Budget(r, att)))
    assert mm == ab
    assert decide(pq[0], pq[1], mm) == decide(pq[0], pq[1], ab)


@settings(max_examples=FEW)
@given(c=counts(max_total=200), m=modalities(max_t=1), ratio=st.integers(1, 3))
def test_ablation_single_modality_full_pipeline(c, m, ratio):
    n, k, r, att = m
    a = certify(c, "0.001", n, k, r, att[0], method="mmcert")
    b = certify(c, "0.001", n, k, r, att[0], method="ablation")
    assert (a.certified, a.decision, a.bounds) == (b.certified, b.decision, b.bounds)
    ra = radius(c, "0.001", n, k, (ratio,), att[0], method="mmcert")
    rb = radius(c, "0.001", n, k, (ratio,), att[0], method="ablation")
    assert ra.radius == rb.radius


# ---------------------------------------------------------------------------
# radius consistency
# ---------------------------------------------------------------------------


@st.composite
def radius_case(draw):
    T = draw(st.integers(1, 3))
    n = tuple(draw(st.integers(1, 200) | st.integers(1, 10**5)) for _ in range(T))
    k = tuple(draw(st.integers(1, min(n_i, 300))) for n_i in n)
    att = tuple(draw(ATTACKS) for _ in range(T))
    ratio = [draw(st.integers(0, 4)) for _ in range(T)]
    ratio[draw(st.integers(0, T - 1))] = draw(st.integers(1, 4))  # never all zero
    return n, k, tuple(ratio), att


@settings(max_examples=FEW)
@given(c=counts(max_total=500, min_share=0.8) | counts(max_total=500), case=radius_case(), method=st.sampled_from(["mmcert", "ablation"]))
@example(c=(100, 0, 0, 0, 0, 0, 0), case=((108, 79380), (5, 1000), (1, 1), ("modify", "modify")), method="mmcert")
@example(c=(100, 0, 0, 0, 0, 0, 0), case=((108, 79380), (5, 1000), (1, 1), ("modify", "modify")), method="ablation")
@example(c=(32, 0), case=((1, 7), (1, 1), (1, 0), ("modify", "modify")), method="ablation")  # found: ablation cap ignored n_i (fixed)
def test_radius_is_certified_and_next_is_not(c, case, method):
    n, k, ratio, att = case
    if method == "ablation":
        k = (min(sum(k), sum(n)),)
    res = radius(c, "0.001", n, k, ratio, list(att), method=method)
    event(f"radius is None: {res.radius is None}")
    if res.radius is None:
        assert not certify(c, "0.001", n, k, (0,) * len(n), list(att), method=method).certified
        return
    t = res.radius
    assert certify(c, "0.001", n, k, tuple(t * x for x in ratio), list(att), method=method).certified
    nxt = tuple((t + 1) * x for x in ratio)
    if res.search_limit is None or t + 1 <= res.search_limit:
        assert not certify(c, "0.001", n, k, nxt, list(att), method=method).certified
    else:
        # past the search limit the budget is invalid or some P_e = 0: never certified
        try:
            got = certify(c, "0.001", n, k, nxt, list(att), method=method).certified
        except InvalidParameterError:
            got = False
        assert not got


@given(m=modalities(), pq=bounds())
def test_decision_matches_rational_gap(m, pq):
    # clause T1.4 vs the rational Eq. 4 - Eq. 5 (recomputed here from a, b and the masses)
    n, k, r, att = m
    ms = SubsampleMasses.of(attacked_sizes(Setting(n, k), Budget(r, att)))
    d = decide(pq[0], pq[1], ms)
    eq4 = Fraction(ms.p_n, ms.p_n_prime) * (Fraction(d.a, ms.p_n) - 1 + Fraction(ms.p_e, ms.p_n))
    eq5 = Fraction(ms.p_n, ms.p_n_prime) * Fraction(d.b, ms.p_n) + 1 - Fraction(ms.p_e, ms.p_n_prime)
    assert d.certified == (eq4 > eq5)
    assert d.gap == eq4 - eq5
