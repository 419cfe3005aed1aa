"""Per-input certificates (spec clause CERT.4): one input's votes once, a claim per budget, a radius per ratio.

A data-set run certifies every input against many budgets (``[budgets] r``, ``ratios`` x ``steps``).  The
per-budget kinds of CERT.1 write one file per (input, budget); these kinds write one file per input::

    kind "classification_per_input", spec_version "1.1"
    inputs: method, n, k, attack, alpha, counts, N (the samples drawn), budgets [[r_1..r_T], ...],
            ratios [[c_1..c_T], ...] (the run's radius directions, possibly none)
    claims: C, alpha_split, label, runner_up, p_a_lower, p_b_upper   (one bound pair: they do not
            depend on the budget)
            budgets [{r, certified, theorem1_gap}, ...]                (one per inputs.budgets, in order)
            radii   [{ratio, t, r, search_limit}, ...]                 (one per inputs.ratios, in order)

    kind "segmentation_per_input", spec_version "1.1"
    inputs: method, n, k, attack, alpha, N, budgets, segmented_modality, votes (the sidecar, CERT.2)
    claims: budgets [the CERT.1 segmentation claims of each budget, in order]

Every claim is the reference engine's (:func:`~mmcert_verified.reference.certify.certify`,
:func:`~mmcert_verified.reference.certify.radius`, :func:`~mmcert_verified.reference.segmentation.segment`)
and a pure function of the inputs, so the audit (CERT.3) rebuilds the claims with the functions below and
compares them member by member; one wrong claim fails the whole certificate.  ``inputs.N`` is recorded
explicitly: the votes must sum to it (per pixel for segmentation), so a lost vote batch is detected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .writer import (
    Provenance,
    bound_rule,
    certificate_header,
    recorded_alpha,
    refuse_existing,
    segmentation_claims,
    sidecar_votes,
    write_with_sidecar,
)
from ..errors import InvalidParameterError
from ..reference.certify import Certification, RadiusResult, alpha_fraction, certify, radius
from ..threat_model import Attack, Budget, Setting
from .format import MAX_BUDGETS, Kind, exact_text, gap_text, seal


def shared_attack(budgets: Sequence[Budget], modalities: int) -> tuple[Attack, ...]:
    """The one attack every budget of a per-input certificate shares (a run's budgets all do)."""
    if not budgets:
        raise InvalidParameterError("a per-input certificate needs at least one budget")
    if len(budgets) > MAX_BUDGETS:
        raise InvalidParameterError(f"{len(budgets)} budgets, over the {MAX_BUDGETS} one certificate holds")
    attack = tuple(budgets[0].attack)
    for b in budgets:
        if tuple(b.attack) != attack or len(b.r) != modalities:
            raise InvalidParameterError("the budgets of one per-input certificate must share the attack and the "
                                        "number of modalities")
    return attack


def threat_inputs(setting: Setting, attack: Sequence[Attack], alpha_text: str) -> dict:
    """The ``inputs`` members every budget-list certificate starts with (CERT.4, CERT.5), in their order."""
    return {"method": setting.method.value, "n": list(setting.n), "k": list(setting.k),
            "attack": [a.value for a in attack], "alpha": alpha_text}


def check_samples(total: int, samples: int | None) -> int:
    """N as recorded: the samples drawn; the votes must sum to it (clause CERT.4)."""
    if samples is None:
        return int(total)
    if isinstance(samples, bool) or int(samples) != total:
        raise InvalidParameterError(f"the votes sum to {total}, not the N = {samples} samples drawn")
    return int(samples)


# --- classification --------------------------------------------------------------------------


def classification_budget_claims(certs: Sequence[Certification], radii: Sequence[RadiusResult]) -> dict:
    """Clause CERT.4: the ``claims`` of a classification per-input certificate, from the reference results.

    ``certs``: one :func:`certify` per budget, all of the same votes, alpha and bound; ``radii``: one
    :func:`radius` per ratio.  The audit calls this on its own re-derivation, so it depends on them only.
    """
    first = certs[0]
    b = first.bounds
    return {
        "C": first.votes.classes,
        "alpha_split": bound_rule(b.rule).alpha_split(first.alpha, first.votes.classes),
        "label": b.label,
        "runner_up": b.runner_up,
        "p_a_lower": exact_text(b.p_a_lower),
        "p_b_upper": exact_text(b.p_b_upper),
        "budgets": [
            {
                "r": list(c.budget.r),
                "certified": bool(c.decision.certified),
                "theorem1_gap": gap_text(c.decision.a - c.decision.b - c.decision.threshold, c.masses.p_n_prime),
            }
            for c in certs
        ],
        "radii": [
            {
                "ratio": list(rad.ratio),
                "t": rad.radius,
                "r": None if rad.radius is None else [rad.radius * c for c in rad.ratio],
                "search_limit": rad.search_limit,
            }
            for rad in radii
        ],
    }


def classification_per_input_certificate(
    counts: Sequence[int],
    alpha,
    setting: Setting,
    budgets: Sequence[Budget],
    ratios: Sequence[Sequence[int]] = (),
    *,
    bound="bonferroni",
    alpha_text: str | None = None,
    samples: int | None = None,
    provenance: Provenance | None = None,
) -> dict:
    """Clause CERT.4: the sealed per-input certificate of one input's ``counts`` at every budget and ratio.

    Every claim is computed here by the reference engine at the bound method ``bound`` (fixed before the
    votes, CP.5).  ``samples``: the N drawn (the counts must sum to it).  Guarantee: the returned dict
    audits as holding.
    """
    counts = [int(c) for c in counts]
    attack = shared_attack(budgets, setting.modalities)
    n_total = check_samples(sum(counts), samples)
    alpha_q = alpha_fraction(alpha)
    text = recorded_alpha(alpha_text if alpha_text is not None else (alpha if isinstance(alpha, str) else None),
                          alpha_q)
    attack_v = [a.value for a in attack]
    certs = [certify(counts, alpha_q, setting.n, setting.k, b.r, attack_v, setting.method, bound) for b in budgets]
    radii = [radius(counts, alpha_q, setting.n, setting.k, ratio, attack_v, setting.method, bound) for ratio in ratios]
    doc = certificate_header(Kind.CLASSIFICATION_PER_INPUT)
    doc["inputs"] = {
        **threat_inputs(setting, attack, text),
        "counts": counts,
        "N": n_total,
        "budgets": [list(b.r) for b in budgets],
        "ratios": [[int(c) for c in ratio] for ratio in ratios],
    }
    doc["claims"] = classification_budget_claims(certs, radii)
    doc["provenance"] = (provenance or Provenance(engine="reference")).to_json()
    return seal(doc)


# --- segmentation ----------------------------------------------------------------------------


def segmentation_budget_claims(results_json: Sequence[Mapping[str, Any]], alpha_text: str) -> dict:
    """Clause CERT.4: the ``claims`` of a segmentation per-input certificate: CERT.1's claims per budget."""
    return {"budgets": [segmentation_claims(r, alpha_text) for r in results_json]}


def write_segmentation_per_input_certificate(
    path,
    counts,
    labels,
    *,
    alpha_text: str,
    setting: Setting,
    budgets: Sequence[Budget],
    results_json: Sequence[Mapping[str, Any]] | None = None,
    segmented_modality: int = 0,
    samples: int | None = None,
    bound="bonferroni",
    provenance: Provenance | None = None,
) -> Path:
    """Clause CERT.4: write one segmentation certificate for every budget and its one ``.npz`` sidecar.

    ``results_json``: each budget's ``SegmentationResult.to_json()`` as computed (default: the reference
    ``segment`` here, at the bound method ``bound``; CERT.6).  Each pixel's votes must sum to ``samples`` (the N drawn).  Both files are written
    atomically and never overwrite (:class:`~mmcert_verified.errors.InputFileError`).
    """
    from ..reference.segmentation import segment

    path = Path(path)
    refuse_existing(path)
    attack = shared_attack(budgets, setting.modalities)
    text = recorded_alpha(str(alpha_text), alpha_fraction(str(alpha_text)))
    votes = np.asarray(counts)
    if votes.ndim < 2:
        raise InvalidParameterError(f"segmentation votes need a class axis and pixels, got shape {votes.shape}")
    sums = np.unique(votes.sum(axis=0 if votes.ndim in (2, 3) else 1))
    if len(sums) != 1:
        raise InvalidParameterError("the pixels' votes do not all sum to the same N")
    n_total = check_samples(int(sums[0]), samples)
    if results_json is None:
        results_json = [
            segment(votes, text, setting.n, setting.k, b.r, [a.value for a in attack], setting.method.value,
                    labels=labels, segmented_modality=segmented_modality,
                    **({} if bound == "bonferroni" else {"bound": bound})).to_json()
            for b in budgets
        ]
    if len(results_json) != len(budgets):
        raise InvalidParameterError(f"{len(results_json)} results for {len(budgets)} budgets")
    data, votes_ref = sidecar_votes(path, votes, labels)
    doc = certificate_header(Kind.SEGMENTATION_PER_INPUT)
    doc["inputs"] = {
        **threat_inputs(setting, attack, text),
        "N": n_total,
        "budgets": [list(b.r) for b in budgets],
        "segmented_modality": int(segmented_modality),
        "votes": votes_ref,
    }
    doc["claims"] = segmentation_budget_claims(results_json, text)
    doc["provenance"] = (provenance or Provenance(engine="reference")).to_json()
    return write_with_sidecar(seal(doc), path, data)

