"""Tampered certificates (clause CERT.3): Hypothesis-generated certificates and edits.

The acceptance criteria of issue 7: an untouched certificate audits 0; a
changed field with the digest left alone audits 1 (digest mismatch); a changed
field with the digest recomputed audits 1 whenever the claim no longer holds
of the inputs -- which only re-derivation can tell -- and 0 only when the
edited certificate is exactly what the reference engine derives.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from _audit_helpers import audit, classification_doc, write_json

import mmcert_verified.certificates.audit as audit_module
from mmcert_verified.certificates.writer import classification_claims, exact_text, seal
from mmcert_verified.errors import MMCertError
from mmcert_verified.reference.certify import certify, radius
from json_edit import edited, leaves

ALPHAS = ["0.001", "0.01", "0.05", "1/20", "2.5e-2"]


@st.composite
def settings_(draw):
    """A small valid (counts, alpha, n, k, r, attack, method)."""
    t = draw(st.integers(1, 2))
    method = draw(st.sampled_from(["mmcert", "mmcert", "ablation"]))
    n = [draw(st.integers(1, 12)) for _ in range(t)]
    if method == "mmcert":
        k = [draw(st.integers(1, ni)) for ni in n]
    else:
        k = [draw(st.integers(1, sum(n)))]
    attack = [draw(st.sampled_from(["modify", "add", "delete"])) for _ in range(t)]
    r = []
    for i in range(t):
        if attack[i] == "add":
            r.append(draw(st.integers(0, 4)))
        elif attack[i] == "modify":
            r.append(draw(st.integers(0, n[i])))
        else:
            room = n[i] - (k[i] if method == "mmcert" else 0)
            r.append(draw(st.integers(0, max(room, 0))))
    if method == "ablation":
        lost = sum(ri for ri, a in zip(r, attack) if a == "delete")
        assume(sum(n) - lost >= k[0])
    c = draw(st.integers(1, 4))
    counts = draw(st.lists(st.integers(0, 40), min_size=c, max_size=c).filter(lambda v: sum(v) > 0))
    alpha = draw(st.sampled_from(ALPHAS))
    return dict(counts=counts, alpha=alpha, n=n, k=k, r=r, attack=",".join(attack), method=method)


@st.composite
def certifiable(draw):
    """Skewed votes and a small k: usually certified at a small r along a finite radius."""
    t = draw(st.integers(1, 2))
    n = [draw(st.integers(10, 40)) for _ in range(t)]
    k = [draw(st.integers(1, 2)) for _ in range(t)]
    attack = [draw(st.sampled_from(["modify", "add", "delete"])) for _ in range(t)]
    r = [draw(st.integers(0, 2)) for _ in range(t)]
    assume(any(r))
    total = draw(st.integers(40, 80))
    rest = draw(st.integers(0, 3))
    counts = [total - rest, rest] + [0] * draw(st.integers(0, 2))
    alpha = draw(st.sampled_from(ALPHAS))
    return dict(counts=counts, alpha=alpha, n=n, k=k, r=r, attack=",".join(attack), method="mmcert")


def _audit_doc(doc) -> tuple[int, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_json(Path(tmp) / "c.json", doc)
        code, (report,), err = audit([path])
    assert err == ""
    return code, report


@given(settings_())
def test_untouched_certificate_holds(params):
    doc = classification_doc(**params)
    code, report = _audit_doc(doc)
    assert code == 0, report
    result = certify(**params)
    assert report["certified"] is result.certified
    assert report["status"] == "holds" and report["reasons"] == []



def _mutations(value, draw):
    """A different value of the same JSON type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.sampled_from([-1, 1, 2, 7]))
    if isinstance(value, str):
        return draw(st.sampled_from([value + "0", value[:-1], "1" + value, value.upper(), "modify", "0.5"]))
    if value is None:
        return draw(st.sampled_from([0, "x", False]))
    return None


@settings(max_examples=60)
@given(settings_(), st.data())
def test_any_single_edit_without_resealing_never_holds(params, data):
    doc = classification_doc(**params)
    path, value = data.draw(st.sampled_from(list(leaves(doc))))
    new = _mutations(value, data.draw)
    assume(new is not None and (new != value or type(new) is not type(value)))
    code, report = _audit_doc(edited(doc, path, new))
    assert code in (1, 2), (path, value, new, report)
    if code == 1:
        assert report["reasons"][0].startswith("digest mismatch"), report
    assert report["status"] == {1: "fails", 2: "invalid"}[code]


@given(settings_())
def test_flipping_the_decision_fails_even_resealed(params):
    doc = classification_doc(**params)
    flipped = seal(edited(doc, ("claims", "certified"), not doc["claims"]["certified"]))
    code, report = _audit_doc(flipped)
    assert code == 1
    assert report["reasons"][0].startswith("claims.certified:"), report


@given(certifiable())
def test_raising_r_past_the_radius_fails_even_resealed(params):
    doc = classification_doc(**params)
    largest = doc["claims"]["largest_certified"]
    assume(doc["claims"]["certified"] and largest is not None and largest["t"] is not None)
    ratio, t = doc["inputs"]["radius_ratio"], largest["t"]
    beyond = [(t + 1) * c for c in ratio]
    try:
        certify(params["counts"], params["alpha"], params["n"], params["k"], beyond, params["attack"], params["method"])
    except MMCertError:
        assume(False)  # (t+1)*ratio is not even a valid budget
    code, report = _audit_doc(seal(edited(doc, ("inputs", "r"), beyond)))
    assert code == 1
    assert report["reasons"][0].startswith("claims.certified: the certificate says true"), report


@given(settings_(), st.data())
def test_resealed_input_edits_hold_only_when_the_claims_are_true(params, data):
    """Edit the inputs (counts, alpha, r), re-seal, keep the claims: holds iff the reference agrees."""
    doc = classification_doc(**params)
    field = data.draw(st.sampled_from(["counts", "alpha", "r"]))
    inp = doc["inputs"]
    if field == "counts":
        i = data.draw(st.integers(0, len(inp["counts"]) - 1))
        new = list(inp["counts"])
        new[i] = max(0, new[i] + data.draw(st.sampled_from([-3, -1, 1, 2])))
        assume(sum(new) > 0 and new != inp["counts"])
    elif field == "alpha":
        new = data.draw(st.sampled_from([a for a in ALPHAS if Fraction(a) != Fraction(inp["alpha"])]))
    else:
        j = data.draw(st.integers(0, len(inp["r"]) - 1))
        new = list(inp["r"])
        new[j] += 1
    tampered = seal(edited(doc, ("inputs", field), new))
    code, report = _audit_doc(tampered)
    assert code in (0, 1), report
    p = dict(params, **{field: new})
    try:  # the reference engine on the edited inputs, along the recorded radius direction
        result = certify(**p)
        ratio = inp["radius_ratio"]
        rad = None if ratio is None else radius(p["counts"], p["alpha"], p["n"], p["k"], ratio, p["attack"], p["method"])
        truth = classification_claims(result, rad)
        assert truth["certified"] is result.certified
    except MMCertError:
        truth = None  # the edited inputs do not define a certification
    if code == 0:
        # a holding certificate's claims are exactly the reference's for its inputs
        assert truth == tampered["claims"]
    else:
        assert truth != tampered["claims"]


@given(settings_(), st.sampled_from(["p_a_lower", "p_b_upper"]), st.integers(1, 9))
def test_resealed_bound_edits_fail(params, which, digit):
    doc = classification_doc(**params)
    text = doc["claims"][which]
    value = Fraction(text) + Fraction(digit, 10**45)
    assume(0 <= value <= 1)
    code, report = _audit_doc(seal(edited(doc, ("claims", which), exact_text(value))))
    assert code == 1
    assert any(r.startswith(f"claims.{which}:") for r in report["reasons"]), report


# --- the enumeration oracle and internal errors ----------------------------------------------


def test_tiny_certified_certificate_is_also_checked_by_enumeration():
    pytest.importorskip("mmcert_verified.enumeration.neyman_pearson")
    code, report = _audit_doc(classification_doc([48, 1, 1], "0.01", [8, 6], [1, 1], [1, 1]))
    assert code == 0 and "enumeration" in report["checks"], report


def test_an_oracle_counterexample_fails_the_certificate(monkeypatch):
    """Wiring: if the NP.1 oracle ever found a flip, the audit must say fails (not holds)."""
    np_module = pytest.importorskip("mmcert_verified.enumeration.neyman_pearson")

    class Flip:
        # only the randomized worst case flips (D9: randomized base models are covered); the
        # deterministic one does not, so an oracle reading the deterministic field would say "holds"
        def __init__(self, *a, **kw):
            self.randomized = type("W", (), {"gap": Fraction(-1, 7)})()
            self.deterministic = type("W", (), {"gap": Fraction(1, 7)})()

    monkeypatch.setattr(np_module, "worst_case", Flip)
    code, report = _audit_doc(classification_doc([48, 1, 1], "0.01", [8, 6], [1, 1], [1, 1]))
    assert code == 1 and "enumeration oracle" in " ".join(report["reasons"]), report


def test_an_engine_crash_is_invalid_not_holds(monkeypatch):
    def boom(*a, **kw):
        raise RuntimeError("simulated bug\nwith a newline")

    monkeypatch.setattr(audit_module, "certify", boom)
    code, report = _audit_doc(classification_doc([9, 1], "0.05", [6], [2], [1]))
    assert code == 2 and report["status"] == "invalid"
    assert "internal error" in report["reasons"][0] and "\n" not in report["reasons"][0]


def test_oracle_catches_an_engine_that_is_sound_only_for_deterministic_models(monkeypatch):
    """Issue 10 item 1: with Theorem 1's rounding swapped to the deterministic-only variant
    (a = ceil(p_A P_n), b = floor(p_B P_n): exact for deterministic classifiers, see
    tests/soundness/test_neyman_pearson.py::test_opposite_rounding_is_sound_and_exact_for_deterministic_classifiers),
    n=3, k=1, modify r=1, counts 10,0, alpha 0.1 is certified although the exact randomized worst-case
    gap is about -0.18; the audit re-derives with the same (broken) engine, so only the oracle can see it."""
    from mmcert_verified.reference import theorem1

    pytest.importorskip("mmcert_verified.enumeration.neyman_pearson")
    floor_mul, ceil_mul = theorem1.floor_mul, theorem1.ceil_mul
    monkeypatch.setattr(theorem1, "floor_mul", ceil_mul)
    monkeypatch.setattr(theorem1, "ceil_mul", floor_mul)
    doc = classification_doc([10, 0], "0.1", [3], [1], [1], with_radius=False)
    assert doc["claims"]["certified"] is True  # the broken engine certifies
    code, report = _audit_doc(doc)
    assert code == 1, report
    assert "enumeration oracle" in " ".join(report["reasons"]), report
