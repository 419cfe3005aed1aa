"""Sequential certificates (spec clause CERT.5): an adaptive (CS.1) certification, stopped at a round.

Adaptive sampling (:mod:`mmcert_verified.bounds.sequential`) draws votes in rounds of a schedule
N_1 < ... < N_J fixed in advance and stops at a data-dependent round j; its bounds are taken at the
round's level alpha_j = alpha / (j (j + 1)) (j < J) or alpha / J (j = J), which is what keeps the
1 - alpha guarantee under optional stopping.  The certificate records what the audit needs to re-derive
that level and every verdict::

    kind "classification_sequential", spec_version "1.1"
    inputs: method, n, k, attack, alpha (the overall level), counts (the cumulative votes at the stopping
            round), N (the samples used: N_j), schedule [N_1, ..., N_J], round j, budgets [[r...], ...]
    claims: C, round_level (alpha_j, exact), alpha_split (the bound method at alpha_j), label, runner_up,
            p_a_lower, p_b_upper, budgets [{r, status, certified, theorem1_gap}, ...]

``status`` is CS.1's per-budget state after the round (certified, hopeless or open).  The audit checks
sum(counts) = N = N_j, recomputes alpha_j from the schedule and the round, and rebuilds the claims with
:func:`sequential_claims`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from ..bounds.sequential import Schedule, SequentialResult, budget_status, round_bounds
from ..errors import InvalidParameterError
from ..reference.certify import alpha_fraction
from ..reference.theorem1 import SubsampleMasses, decide
from ..threat_model import Budget, Setting, attacked_sizes
from .format import MAX_ROUNDS, Kind, exact_text, gap_text, seal
from .per_input import shared_attack, threat_inputs
from .writer import Provenance, bound_rule, certificate_header, recorded_alpha


def sequential_claims(
    counts: Sequence[int], alpha: Fraction, schedule: Schedule, round_: int, setting: Setting,
    budgets: Sequence[Budget], bound="bonferroni",
) -> dict:
    """Clause CERT.5: the claims of a sequential certificate, by the reference engine (CS.1 at round j).

    Raises :class:`InvalidParameterError` when the counts do not sum to N_j (CS.1's ``round_bounds``).
    """
    level = schedule.level(alpha, round_)
    b = round_bounds(counts, alpha, schedule, round_, bound)
    classes = len(counts)
    rows = []
    for budget in budgets:
        masses = SubsampleMasses.of(attacked_sizes(setting, budget))
        d = decide(b.p_a_lower, b.p_b_upper, masses)
        rows.append({
            "r": list(budget.r),
            "status": budget_status(counts, b, setting, budget).value,
            "certified": bool(d.certified),
            "theorem1_gap": gap_text(d.a - d.b - d.threshold, masses.p_n_prime),
        })
    return {
        "C": classes,
        "round_level": exact_text(level),
        "alpha_split": bound_rule(b.rule).alpha_split(level, classes),
        "label": b.label,
        "runner_up": b.runner_up,
        "p_a_lower": exact_text(b.p_a_lower),
        "p_b_upper": exact_text(b.p_b_upper),
        "budgets": rows,
    }


def sequential_certificate(
    result: SequentialResult,
    *,
    alpha,
    setting: Setting,
    budgets: Sequence[Budget],
    alpha_text: str | None = None,
    provenance: Provenance | None = None,
) -> dict:
    """Clause CERT.5: the sealed certificate of an adaptive result from ``certify_sequential``.

    ``alpha``, ``setting`` and ``budgets`` are those the result was computed with (a
    :class:`SequentialResult` does not hold them); they are checked: the recorded claims are recomputed
    by the reference engine and must give the result's bounds and verdicts, else
    :class:`InvalidParameterError`.  Guarantee: the returned dict audits as holding.
    """
    schedule = result.schedule
    if schedule.rounds > MAX_ROUNDS:
        raise InvalidParameterError(f"a schedule of {schedule.rounds} rounds, over the {MAX_ROUNDS} a certificate holds")
    attack = shared_attack(budgets, setting.modalities)
    alpha_q = alpha_fraction(alpha)
    text = recorded_alpha(alpha_text if alpha_text is not None else (alpha if isinstance(alpha, str) else None),
                          alpha_q)
    counts = [int(c) for c in result.counts]
    claims = sequential_claims(counts, alpha_q, schedule, result.round, setting, budgets, result.bounds.rule)
    again = round_bounds(counts, alpha_q, schedule, result.round, result.bounds.rule)
    if again != result.bounds or tuple(row["certified"] for row in claims["budgets"]) != tuple(result.certified):
        raise InvalidParameterError("the sequential result was computed for another alpha, setting or budgets")
    doc = certificate_header(Kind.CLASSIFICATION_SEQUENTIAL)
    doc["inputs"] = {
        **threat_inputs(setting, attack, text),
        "counts": counts,
        "N": result.samples,
        "schedule": list(schedule.sizes),
        "round": result.round,
        "budgets": [list(b.r) for b in budgets],
    }
    doc["claims"] = claims
    doc["provenance"] = (provenance or Provenance(engine="reference")).to_json()
    return seal(doc)
