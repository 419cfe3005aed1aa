"""Issue 17: the fast engine certified what the reference rejects at tiny alpha / C and huge n.

Each case below was a disagreement on main before the fix (issue 17's text gives the commands and the
wrong answers); the expected values are the reference engine's (exact arithmetic), which an
independent 90-digit check agreed with (issue 17).  A Hypothesis strategy that reaches tiny levels
and huge n closes the file.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mmcert_verified.cli import main
from mmcert_verified.fast import classify as fast
from mmcert_verified.fast import single
from mmcert_verified.fast import confidence
from mmcert_verified.fast import segmentation as fastseg
from mmcert_verified.fast.ratios import log_comb_lower
from mmcert_verified.reference import certify as ref
from mmcert_verified.reference import segmentation as refseg

N7 = (10_000_000, 10_000_000)


def _cli_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("counts,alpha,r", [
    ((7704, 38), "1e-245", (4121000, 0)),   # fast said certified, reference says not
    ((1892, 108), "3e-323", (681283, 0)),   # ditto (subnormal level)
])
def test_certify_tiny_alpha_fast_equals_reference(counts, alpha, r):
    want = ref.certify(list(counts), alpha, N7, (1, 1), r, "modify").certified
    got = single.certify_decision(counts, Fraction(alpha), N7, (1, 1), r, "modify", "mmcert")
    assert want is False  # the reference rejects both (issue 17)
    assert got == want


def test_radius_tiny_alpha_fast_equals_reference():
    want = ref.radius([7704, 38], "1e-245", N7, (1, 1), (1, 0), "modify").radius
    got = single.radius_value((7704, 38), Fraction("1e-245"), N7, (1, 1), (1, 0), "modify", "mmcert")
    assert want == 4119905  # issue 17: the reference's radius; the fast engine said 4122757
    assert got == want


def test_cli_stdout_and_certificate_carry_one_answer(tmp_path, capsys):
    out = tmp_path / "cert.json"
    doc = _cli_json(capsys, ["certify", "--counts", "7704,38", "--alpha", "1e-245", "--n", "10000000,10000000",
                             "--k", "1,1", "--r", "4121000,0", "--attack", "modify", "--json", "--out", str(out)])
    cert = json.loads(out.read_text())
    assert doc["certified"] is False
    assert json.dumps(cert).count('"certified": false') >= 1 and '"certified": true' not in json.dumps(cert)


def test_levels_outside_the_verified_range_are_never_decided_in_float():
    # spec F.3-A: no float decision below LEVEL_MIN or above N_MAX
    s = np.array([1.0, 5.0, 50.0])
    for t in (1e-245, 3e-323 / 2, 0.0):
        for fn in (confidence.lower_bounds, confidence.upper_bounds):
            _, ok = fn(s, np.float64(100), np.float64(t))
            assert not ok.any(), (fn.__name__, t)
    _, ok = confidence.lower_bounds(s, np.float64(confidence.N_MAX + 1), np.float64(1e-3))
    assert not ok.any()


def test_segment_tiny_alpha_agrees_and_audits(tmp_path, capsys):
    votes = np.array([[[1892]], [[108]]], dtype=np.int64)
    labels = np.array([[0]])
    kw = dict(n=N7, k=(1, 1), r=(681400, 0), attack="modify")
    want = refseg.segment(votes, Fraction("3e-323"), labels=labels, **kw)
    got = fastseg.segment(votes, Fraction("3e-323"), labels=labels, **kw)
    assert int(want.certified_mask.sum()) == 0  # the exact rule certifies nothing (issue 17)
    assert got.to_json() == want.to_json()


def test_segment_alpha_below_double_range_terminates():
    votes = np.array([[[2000]], [[0]]], dtype=np.int64)
    kw = dict(n=(100, 100), k=(1, 1), r=(0, 0), attack="modify")
    alpha = Fraction(1, 10**400)  # float(alpha) == 0.0: grid_floor(0.0) looped forever before the fix
    want = refseg.segment(votes, alpha, **kw)
    got = fastseg.segment(votes, alpha, **kw)
    assert got.to_json() == want.to_json()
    assert int(want.certified_mask.sum()) == 1  # 2000 of 2000 votes at r = 0 certify even at 1e-400


def test_alpha_star_below_double_range_is_certifying_and_at_most_alpha():
    prob = refseg.segmentation_problem(1, Fraction(1, 10**400), (100, 100), (1, 1), (0, 0), "modify", "mmcert",
                                       None, 0, 0)
    problem = refseg.PixelProblem(2000, 2, prob.sizes_masses)
    value = refseg.alpha_star((2000, 0), problem, prob.alpha)
    assert 0 < value <= prob.alpha
    assert refseg.certified_at_level((2000, 0), problem, value)


def test_grid_floor_is_exact_for_rationals():
    for x in (Fraction(1, 10**400), Fraction(3, 10**323), Fraction(1, 1000), Fraction(5e-324), Fraction(1, 3)):
        i = refseg.grid_floor(x)
        assert refseg.grid_value(i) <= x < refseg.grid_value(i + 1)
    # floats keep their old (frexp-based) indices
    assert refseg.grid_floor(0.001) == refseg.grid_floor(Fraction(0.001))


def test_fast_alpha_star_equals_reference_at_subnormal_grid_levels():
    # issue 17: fast alpha* was 3*2**-1074 (below the infimum) at alpha 0.001, r = (681400, 0)
    prob = refseg.segmentation_problem(1, Fraction(1, 1000), N7, (1, 1), (681400, 0), "modify", "mmcert",
                                       None, 0, 0)
    pairs = [(1892, 108), (1990, 10), (2000, 0), (1500, 500)]
    got = fastseg.alpha_stars(pairs, 2000, 2, prob)
    problem = refseg.PixelProblem(2000, 2, prob.sizes_masses)
    want = [refseg.alpha_star(p, problem, prob.alpha) for p in pairs]
    assert got == want


@pytest.mark.parametrize("n,k", [(9_000_000, 1000), (9 * 10**15, 3), (10**16, 2), (465750, 9000)])
def test_log_comb_lower_is_a_lower_bound_at_huge_n(n, k):
    # exact: log C(n, k) from the big integer (bit length + mantissa), to ~1e-30 relative
    import math

    import mpmath

    exact = math.comb(n, k)
    with mpmath.workprec(200):
        value = mpmath.log(mpmath.mpf(exact))
    assert mpmath.mpf(log_comb_lower(np.array([n]), np.array([k]))) <= value


levels = st.one_of(
    st.integers(1, 320).map(lambda e: Fraction(1, 10**e)),
    st.integers(1, 40).map(lambda e: Fraction(3, 10**(290 + e))),
)
huge_n = st.one_of(st.integers(2, 60), st.integers(10**6, 10**8), st.integers(10**15, 10**16))


@settings(deadline=None)
@given(
    na=st.integers(1, 400), nb=st.integers(0, 60), alpha=levels, n=huge_n,
    k=st.integers(1, 3), frac=st.floats(0, 0.6),
)
@example(na=7704, nb=38, alpha=Fraction("1e-245"), n=10**7, k=1, frac=0.4121)
@example(na=1892, nb=108, alpha=Fraction("3e-323"), n=10**7, k=1, frac=0.0681283)
def test_differential_tiny_levels_and_huge_n(na, nb, alpha, n, k, frac):
    k = min(k, n)
    r = int(frac * (n - k))
    counts = [na, nb]
    want = ref.certify(counts, alpha, (n, n), (k, k), (r, 0), "modify").certified
    got = bool(fast.certify_batch([counts], alpha, (n, n), (k, k), [(r, 0)], "modify").certified[0, 0])
    assert got == want
