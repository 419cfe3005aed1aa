"""Sequential certificates (clause CERT.5): an adaptive CS.1 result, its schedule, round and sample count.

Oracles: CS.1's level by hand (alpha / (j (j + 1)) before the last round, alpha / J at the last) and the
reference ``label_bounds`` at that level; tampers that a fixed-N reading would accept (the level of a
single test at alpha, a schedule whose last round moved) must fail.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from mmcert_verified.certificates.audit import Verdict, audit_file
from mmcert_verified.bounds.sequential import Schedule, certify_sequential
from mmcert_verified.certificates.writer import exact_text, seal, write_certificate
from mmcert_verified.certificates.sequential import sequential_certificate
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.certify import label_bounds
from mmcert_verified.threat_model import Budget, Method, Setting, parse_attacks
from mmcert_verified.votes import Votes
from json_edit import edited

SETTING = Setting((108, 79380), (5, 1000), Method.MMCERT)
ATTACK = parse_attacks("modify", 2)
BUDGETS = [Budget((t, 10 * t), ATTACK) for t in range(3)]
SCHEDULE = Schedule((25, 50, 100, 200, 400))


def confident(m: int) -> list[int]:
    """m votes of a confident input, deterministic: 94% / 4% / 2% (so early rounds decide)."""
    return [m - m // 25 - m // 50, m // 25, m // 50]


def uncertain(m: int) -> list[int]:
    """m votes split 60 / 40: r = (2, 20) stays open until N_max, where it is hopeless."""
    return [m - 2 * m // 5, 2 * m // 5, 0]


def _doc(draw=confident, budgets=BUDGETS, **kw):
    result = certify_sequential(draw, "0.001", SCHEDULE, SETTING, budgets)
    return result, sequential_certificate(result, alpha="0.001", setting=SETTING, budgets=budgets, **kw)



def test_records_the_schedule_round_samples_and_the_round_level(tmp_path):
    result, doc = _doc()
    j = result.round
    assert 1 < j < SCHEDULE.rounds  # the confident input stops early: the early-stopping case is reached
    inp, claims = doc["inputs"], doc["claims"]
    assert inp["schedule"] == [25, 50, 100, 200, 400] and inp["round"] == j
    assert inp["N"] == result.samples == SCHEDULE.sizes[j - 1] == sum(inp["counts"])
    # CS.1 by hand: round j < J spends alpha / (j (j + 1)); bonferroni then splits it over C = 3 labels
    level = Fraction(1, 1000) / (j * (j + 1))
    assert claims["round_level"] == exact_text(level)
    assert claims["alpha_split"] == {"rule": "bonferroni", "parts": 3, "level": exact_text(level / 3)}
    ref = label_bounds(Votes(tuple(inp["counts"])), level)
    assert (claims["p_a_lower"], claims["p_b_upper"]) == (exact_text(ref.p_a_lower), exact_text(ref.p_b_upper))
    assert [row["certified"] for row in claims["budgets"]] == list(result.certified)
    report = audit_file(write_certificate(doc, tmp_path / "seq.json"))
    assert report.status is Verdict.HOLDS, report.reasons
    assert f"after round {j} of 5" in report.summary


def test_a_run_to_n_max_uses_alpha_over_j_and_records_hopeless_budgets(tmp_path):
    result, doc = _doc(uncertain, [Budget((0, 0), ATTACK), Budget((2, 20), ATTACK)])
    assert result.round == 5 and doc["inputs"]["N"] == 400
    assert doc["claims"]["round_level"] == exact_text(Fraction(1, 1000) / 5)  # alpha_J = alpha / J
    assert [row["status"] for row in doc["claims"]["budgets"]] == ["certified", "hopeless"]
    assert audit_file(write_certificate(doc, tmp_path / "seq.json")).status is Verdict.HOLDS
    # one more round appended to the schedule: round 5 is no longer the last, so CS.1's level there is
    # alpha / 30, not alpha / 5 -- the claims (made at alpha / 5) no longer hold
    longer = seal(edited(doc, ["inputs", "schedule"], [25, 50, 100, 200, 400, 800]))
    report = audit_file(write_certificate(longer, tmp_path / "longer.json"))
    assert report.status is Verdict.FAILS and any(r.startswith("claims.round_level") for r in report.reasons)


@pytest.mark.parametrize("path, value, reason", [
    (["claims", "round_level"], "0.001", "claims.round_level"),  # a fixed-N level at every round
    (["inputs", "round"], 4, "inputs.N"),
    (["inputs", "N"], 200, "inputs.N"),
    (["inputs", "counts"], [90, 6, 4], "claims.p_a_lower"),  # still N_3 = 100 votes, other bounds
    (["claims", "budgets", 2, "certified"], False, "claims.budgets[2].certified"),
    (["inputs", "alpha"], "0.01", "claims.round_level"),
    (["inputs", "schedule"], [25, 40, 30, 200, 400], "inputs.schedule"),
])
def test_a_resealed_tamper_fails(tmp_path, path, value, reason):
    _, doc = _doc()
    assert doc["inputs"]["round"] == 3  # the tampers above are written for round 3 (N_3 = 100)
    report = audit_file(write_certificate(seal(edited(doc, path, value)), tmp_path / "bad.json"))
    assert report.status is Verdict.FAILS
    assert any(r.startswith(reason) for r in report.reasons), report.reasons


def test_the_builder_refuses_a_result_of_other_parameters():
    result, _ = _doc()
    with pytest.raises(InvalidParameterError, match="another alpha"):
        sequential_certificate(result, alpha="0.01", setting=SETTING, budgets=BUDGETS)
    with pytest.raises(InvalidParameterError, match="another alpha"):
        sequential_certificate(result, alpha="0.001", setting=SETTING,
                               budgets=[Budget((30, 300), ATTACK)] * 3)


def test_the_bound_method_is_recorded_and_re_derived(tmp_path):
    result = certify_sequential(confident, "0.001", SCHEDULE, SETTING, BUDGETS, bound="combined")
    doc = sequential_certificate(result, alpha="0.001", setting=SETTING, budgets=BUDGETS)
    assert doc["claims"]["alpha_split"]["rule"] == "combined"
    assert audit_file(write_certificate(doc, tmp_path / "c.json")).status is Verdict.HOLDS
