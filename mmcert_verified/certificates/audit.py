"""Auditing certificates: re-derive every claim without the model (spec clause CERT.3).

For each certificate file the audit

1. reads it under the limits of :mod:`mmcert_verified.certificates.writer` (size,
   depth, digits, no NaN, no duplicate keys) and checks its structure
   (clause CERT.1) -- failing that, the file is **invalid**;
2. recomputes the SHA-256 of its canonical serialization and, for a
   segmentation certificate, of its votes sidecar (clause CERT.2);
3. re-derives every claim from the recorded inputs with the exact reference
   engine -- :func:`mmcert_verified.reference.certify.certify` and
   :func:`~mmcert_verified.reference.certify.radius` for classification,
   :func:`mmcert_verified.reference.segmentation.segment` on the sidecar's
   arrays for segmentation, :func:`mmcert_verified.feature_smoothing.certificate.derive_claims`
   on the recorded score statistics for feature smoothing (clause FS.10), the same per budget and per
   ratio for a per-input certificate (clause CERT.4, after checking the votes sum to the recorded N),
   and CS.1's round level and verdicts for a sequential one (clause CERT.5) -- and compares the result member by member with
   the recorded claims (the decision, both confidence bounds, the alpha split,
   the Theorem 1 gap, the largest certified budget, the metrics);
4. for a certified classification whose joint space is tiny, also asks the
   exhaustive Neyman-Pearson oracle (:mod:`mmcert_verified.enumeration`, when
   installed) whether some base classifier within the certified bounds could
   flip the label.

A certificate **holds** when every check passes; it **fails** when a digest
does not match or any claim differs from its re-derivation (or its inputs do
not define a valid certification).  Guarantee: ``holds`` is returned only if
the recorded claims are exactly what the reference engine derives from the
recorded inputs, so a "certified" verdict that holds is one the reference
engine itself makes.  The digest is not a signature: a certificate edited and
re-sealed holds exactly when its edited claims are still true of its edited
inputs.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import InvalidParameterError, MMCertError
from ..reference.certify import Certification, RadiusResult, certified_at, certify, last_certified
from ..threat_model import Attack, Budget, Method, Setting, max_radius_multiplier
from .per_input import classification_budget_claims, segmentation_budget_claims
from .reader import ClassificationInputs, ClassificationPerInputInputs, LoadedCertificate, SegmentationInputs
from .reader import SegmentationPerInputInputs, SequentialInputs, read_certificate, read_sidecar
from .sequential import sequential_claims
from .writer import MAX_SIDECAR_BYTES, CertificateFormatError, Kind, SidecarDigestError, show_value
from .writer import classification_claims, compute_digest, segmentation_claims

#: the largest binomial product (bits of P_n or P_n') an audit will compute
MAX_MASS_BITS = 2**20
#: joint spaces up to this many sub-samples are also checked by the enumeration oracle
ORACLE_ATOM_LIMIT = 5_000
#: most mismatching members listed per certificate
MAX_REASONS = 8


class Verdict(str, enum.Enum):
    """The outcome of auditing one file (clause CERT.3)."""

    HOLDS = "holds"
    FAILS = "fails"
    INVALID = "invalid"


#: ``mmcert audit`` exit status per verdict; a run exits with the largest over its files
EXIT_CODES = {Verdict.HOLDS: 0, Verdict.FAILS: 1, Verdict.INVALID: 2}


@dataclass(frozen=True)
class AuditReport:
    """The audit of one certificate file.

    ``reasons``: one line each, why it fails or is invalid (empty when it
    holds).  ``certified``: the re-derived decision (classification).
    ``margin``: the re-derived Theorem 1 gap Eq.4 - Eq.5 (positive exactly
    when certified; 17 digits, rounded down).  ``summary``: what was
    confirmed.  ``checks``: the checks that ran.
    """

    path: str
    status: Verdict
    reasons: tuple[str, ...] = ()
    kind: Kind | None = None
    certified: bool | None = None
    margin: str | None = None
    summary: str | None = None
    checks: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "status": self.status.value,
            "kind": None if self.kind is None else self.kind.value,
            "reasons": list(self.reasons),
            "certified": self.certified,
            "margin": self.margin,
            "summary": self.summary,
            "checks": list(self.checks),
        }


class _TooLarge(Exception):
    """The certificate's sizes are beyond what an audit computes."""


# --- size guard -----------------------------------------------------------------------------


def _log2_comb(n: int, k: int) -> float:
    """log2 C(n, k) in floating point (for size decisions on small arguments only)."""
    if k < 0 or k > n:
        return 0.0
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def _bits_upper(sizes: Iterable[tuple[int, int]]) -> float:
    """An upper bound on log2 of prod C(n, k): C(n, k) <= (e n / k)**k, summed over the lists."""
    total = 0.0
    for n, k in sizes:
        if 0 < k <= n:
            total += k * math.log2(math.e * n / k)
    return total


def _lists(method: Method, n: Sequence[int], k: Sequence[int], r: Sequence[int], attack: Sequence[Attack]):
    """(n_i, k_i) and (n'_i, k_i) of the sub-sampled lists (clauses S3, S4), for size checks."""
    grown = [a.rule.longest(ni, ri) for ni, ri, a in zip(n, r, attack)]
    scheme = Method(method).scheme
    return scheme.lists(n, k), scheme.lists(grown, k)


def _check_mass_size(method: Method, n, k, r, attack) -> None:
    """Refuse sizes whose binomial products may exceed :data:`MAX_MASS_BITS` (an audit must terminate)."""
    before, after = _lists(method, n, k, r, attack)
    for label, sizes in (("P_n", before), ("P_n'", after)):
        bits = _bits_upper(sizes)
        if bits > MAX_MASS_BITS:
            raise _TooLarge(
                f"{label} may have up to {bits:.3g} bits, over the audit limit of {MAX_MASS_BITS}; "
                "this tool does not audit certificates of that size"
            )


# --- comparing claims -----------------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


#: segmentation claims that are lower bounds (a smaller recorded value is still true) ...
SEGMENTATION_LOWER_BOUNDS = frozenset({"certified_pixels", "pixel_accuracy", "f_score", "iou"})
#: ... and upper bounds (a larger recorded value is still true)
SEGMENTATION_UPPER_BOUNDS = frozenset({"abstained_pixels"})


class _Compare:
    """Member-by-member comparison of recorded and re-derived claims.

    JSON types are compared exactly (true is not 1, 1 is not 1.0).  With
    ``bounds`` (segmentation), a recorded number under a key of
    :data:`SEGMENTATION_LOWER_BOUNDS` (or in a list under one, e.g.
    ``per_class.iou``) may be *below* the re-derived one and one under
    :data:`SEGMENTATION_UPPER_BOUNDS` *above* it: such a claim is weaker but
    still true (the fast engine's alpha* is never below the reference's, so it
    certifies a subset of the reference's pixels, clause F.5).  Everything
    else must be equal.
    """

    def __init__(self, bounds: bool) -> None:
        self.bounds = bounds
        self.reasons: list[str] = []
        self.conservative = 0

    def run(self, recorded: Any, derived: Any, where: str, key: str | None = None) -> None:
        if len(self.reasons) >= MAX_REASONS:
            return
        if isinstance(recorded, dict) and isinstance(derived, dict):
            for k in sorted(set(recorded) | set(derived)):
                sub = f"{where}.{k}"
                if k not in derived:
                    self.reasons.append(f"{sub}: recorded but not part of the re-derived claims")
                elif k not in recorded:
                    self.reasons.append(f"{sub}: missing (the re-derivation gives {_json_show(derived[k])})")
                else:
                    self.run(recorded[k], derived[k], sub, k)
                if len(self.reasons) >= MAX_REASONS:
                    return
            return
        if isinstance(recorded, list) and isinstance(derived, list) and len(recorded) == len(derived):
            for i, (a, b) in enumerate(zip(recorded, derived)):
                self.run(a, b, f"{where}[{i}]", key)
            return
        if _same(recorded, derived):
            return
        if self.bounds and _is_number(recorded) and _is_number(derived) and type(recorded) is type(derived):
            if key in SEGMENTATION_LOWER_BOUNDS and recorded < derived:
                self.conservative += 1
                return
            if key in SEGMENTATION_UPPER_BOUNDS and recorded > derived:
                self.conservative += 1
                return
        self.reasons.append(
            f"{where}: the certificate says {_json_show(recorded)}, the re-derivation gives {_json_show(derived)}"
        )


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: same type and value (true is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_show(value: Any) -> str:
    return _show_text(_canonical(value))


def _show_text(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _order(reasons: list[str]) -> list[str]:
    """Put the security-relevant mismatches (the decision) first."""
    key = lambda r: (0 if r.startswith("claims.certified") else 1 if "largest_certified" in r else 2)  # noqa: E731
    return sorted(reasons, key=key)


# --- classification -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    reasons: tuple[str, ...]
    certified: bool | None
    margin: str | None
    summary: str | None
    checks: tuple[str, ...]


def _undefined(exc: Exception, checks: Sequence[str]) -> _Outcome:
    """The outcome for recorded inputs that the reference engine refuses: they define no certification."""
    return _Outcome((f"the recorded inputs do not define a certification: {exc}",), None, None, None, tuple(checks))


def _compared(loaded: LoadedCertificate, derived: Any, bounds: bool) -> _Compare:
    """The recorded claims of ``loaded`` compared member by member with the re-derived ``derived``."""
    cmp = _Compare(bounds=bounds)
    cmp.run(loaded.doc["claims"], derived, "claims")
    return cmp


def _oracle_check(result: Certification, budgets: Sequence[tuple[int, ...]]) -> tuple[list[str], bool]:
    """Clause NP.1 cross-check of a certified decision on tiny sizes; (reasons, ran).

    The oracle's verdict is the **randomized** Neyman-Pearson worst case: deviation D9 lets the base
    model be randomized, so a certificate holds only if no randomized classifier within the bounds
    flips the label (the deterministic worst case is never below it and would miss such flips).
    """
    from ..enumeration.joint_space import atom_count
    from ..enumeration.neyman_pearson import worst_case
    setting = result.setting
    pairs = setting.method.scheme.lists(setting.n, setting.k)
    if sum(_log2_comb(n, k) for n, k in pairs) > math.log2(ORACLE_ATOM_LIMIT):
        return [], False  # P_n alone exceeds the limit: skip without computing big binomials
    reasons: list[str] = []
    ran = False
    p_a = result.bounds.p_a_lower
    p_b = min(result.bounds.p_b_upper, 1 - p_a)  # Pr(B) <= 1 - Pr(A) <= 1 - p_A anyway
    for r in budgets:
        budget = Budget(r, result.budget.attack)
        try:
            if atom_count(result.setting, budget) > ORACLE_ATOM_LIMIT:
                continue
            wc = worst_case(result.setting, budget, p_a, p_b, limit=ORACLE_ATOM_LIMIT)
        except MMCertError:
            continue
        except Exception:  # noqa: BLE001 - the oracle is an optional extra; its absence is not a verdict
            continue
        ran = True
        if wc.randomized.gap <= 0:
            reasons.append(
                f"the enumeration oracle finds a (randomized) base classifier within the bounds that flips "
                f"the label at r={list(r)} (worst-case gap {show_value(str(wc.randomized.gap))})"
            )
    return reasons, ran


def _radius(result: Certification, ratio: Sequence[int], claimed: Any) -> RadiusResult:
    """Clause R1 along ``ratio``: the largest t with t * ratio certified, for ``result``'s bounds.

    Certification is monotone in r (clause T1.5) and a budget that is invalid
    for the setting (e.g. modifying more elements than a modality has) stays
    invalid as t grows, so a claimed t is confirmed by two exact reference
    decisions: certified at t * ratio, and not at (t + 1) * ratio (or t is
    the search limit).  Otherwise the full reference search runs, so that the
    mismatch report names the true value.
    """
    setting, attack = result.setting, result.budget.attack
    ratio = tuple(ratio)
    if len(ratio) != setting.modalities or not any(ratio):
        raise InvalidParameterError(f"radius_ratio {list(ratio)} is not a direction for {setting.modalities} modalities")
    limit = max_radius_multiplier(setting, ratio, attack)

    def ok(mult: int) -> bool:
        r = tuple(mult * c for c in ratio)
        _check_mass_size(setting.method, setting.n, setting.k, r, attack)
        try:
            return certified_at(result.bounds, setting, Budget(r, attack))
        except InvalidParameterError:
            return False

    value = claimed.get("t", _UNSET) if isinstance(claimed, dict) else _UNSET
    confirmed: Any = _UNSET
    if value is None:
        if not ok(0):
            confirmed = None
    elif type(value) is int and (limit is None or value <= limit) and ok(value):
        if (limit is not None and value == limit) or not ok(value + 1):
            confirmed = value
    if confirmed is _UNSET:
        confirmed = last_certified(ok, limit)
    return RadiusResult(result.label, confirmed, ratio, attack, result.bounds, limit)


def recorded_rule(doc: dict) -> str:
    """The bound method a classification certificate records (``claims.alpha_split.rule``, clause CP.5).

    A certificate written before the methods were pluggable records ``bonferroni`` (CP.4), the only
    method then; one without the field is read as ``bonferroni`` too.  An unknown name is an
    :class:`InvalidParameterError` (the certificate does not define a certification).
    """
    from ..bounds.rules import bound_rule

    split = doc.get("claims", {}).get("alpha_split")
    name = split.get("rule", "bonferroni") if isinstance(split, dict) else "bonferroni"
    return bound_rule(name).name.value


def recorded_segmentation_rule(claims: Any) -> str:
    """The bound method of segmentation claims (``alpha_split.rule``, clause CERT.6).

    ``holm`` (or no ``alpha_split``) is the Bonferroni split of every certificate written before
    segmentation took other methods (SEG.1 with CP.4); any other value names the method (CP.5), read as
    for classification.  An unknown name is an :class:`InvalidParameterError`.
    """
    from ..bounds.rules import bound_rule

    split = claims.get("alpha_split") if isinstance(claims, dict) else None
    name = split.get("rule", "holm") if isinstance(split, dict) else "holm"
    return "bonferroni" if name == "holm" else bound_rule(name).name.value


def segment_with_rule(rule: str):
    """The reference ``segment`` with the bound method ``rule`` fixed (clause CERT.6).

    Bonferroni calls ``segment`` as before the methods existed; another method needs a reference engine
    that takes ``bound`` (:class:`CertificateFormatError` naming the missing piece otherwise).
    """
    import functools
    import inspect

    from ..reference.segmentation import segment

    if rule == "bonferroni":
        return segment
    if "bound" not in inspect.signature(segment).parameters:
        raise CertificateFormatError(f"this installation's reference segmentation takes no bound method; "
                                     f"it cannot re-derive a {rule!r} certificate")
    return functools.partial(segment, bound=rule)


#: marks "no claimed radius to confirm"
_UNSET = object()


def _audit_classification(loaded: LoadedCertificate) -> _Outcome:
    inp = loaded.inputs
    assert isinstance(inp, ClassificationInputs)
    t = inp.threat
    _check_mass_size(t.method, t.n, t.k, t.r, t.attack)
    checks = ["structure", "digest", "reference"]
    try:
        result = certify(inp.counts, t.alpha, t.n, t.k, t.r, t.attack, t.method, recorded_rule(loaded.doc))
        rad = None
        if inp.radius_ratio is not None:
            rad = _radius(result, inp.radius_ratio, loaded.doc["claims"].get("largest_certified"))
    except MMCertError as exc:
        return _undefined(exc, checks)
    derived = classification_claims(result, rad)
    cmp = _compared(loaded, derived, bounds=False)
    reasons = _order(cmp.reasons)
    margin = derived["theorem1_gap"]
    budgets = []
    if result.certified:
        budgets.append(tuple(result.budget.r))
    if rad is not None and rad.radius is not None:
        budgets.append(tuple(rad.radius * c for c in rad.ratio))
    oracle_reasons, ran = _oracle_check(result, budgets) if budgets else ([], False)
    if ran:
        checks.append("enumeration")
    reasons.extend(oracle_reasons)
    verdict = "CERTIFIED" if result.certified else "NOT certified"
    summary = (
        f"classification, label {result.label} {verdict} against r={list(t.r)} "
        f"({', '.join(a.value for a in t.attack)}; {t.method.value}, N={result.votes.total}, alpha={t.alpha_text}"
        f"{'' if result.bounds.rule == 'bonferroni' else ', bound ' + result.bounds.rule}); "
        f"Theorem 1 gap {margin}"
    )
    if rad is not None:
        summary += (
            f"; not certified even at r=0 along {list(rad.ratio)}" if rad.radius is None
            else f"; largest certified r={[rad.radius * c for c in rad.ratio]} (t={rad.radius} along {list(rad.ratio)})"
        )
    return _Outcome(tuple(reasons), bool(result.certified), margin, summary, tuple(checks))


# --- segmentation ---------------------------------------------------------------------------


def _audit_segmentation(loaded: LoadedCertificate, path: Path) -> _Outcome:
    inp = loaded.inputs
    assert isinstance(inp, SegmentationInputs)
    t = inp.threat
    _check_mass_size(t.method, t.n, t.k, t.r, t.attack)
    checks = ("structure", "digest", "sidecar digest", "reference")
    try:
        arrays = read_sidecar(path, inp.votes)
    except SidecarDigestError as exc:
        return _Outcome((str(exc),), None, None, None, checks[:3])
    try:
        rule = recorded_segmentation_rule(loaded.doc["claims"])
    except MMCertError as exc:
        return _Outcome((f"claims.alpha_split: {exc}",), None, None, None, checks)
    segment = segment_with_rule(rule)  # an engine without the method: invalid (cannot be audited here)
    try:
        result = segment(
            arrays.counts, t.alpha, t.n, t.k, t.r, [a.value for a in t.attack], t.method.value,
            labels=arrays.labels, segmented_attack=None if inp.segmented_attack is None else inp.segmented_attack.value,
            r_o=inp.r_o, segmented_modality=inp.segmented_modality,
        )
        derived = segmentation_claims(result.to_json(), t.alpha_text)
    except MMCertError as exc:
        return _undefined(exc, checks)
    cmp = _compared(loaded, derived, bounds=True)
    claimed = loaded.doc["claims"].get("certified_pixels")
    summary = (
        f"segmentation, {_json_show(claimed)} of {_json_show(derived.get('pixels'))} pixels certified "
        f"against r={list(t.r)} ({', '.join(a.value for a in t.attack)}; {t.method.value}, alpha={t.alpha_text}"
        f"{_bound_note(rule)})"
    )
    if cmp.conservative:
        summary += (
            f"; {cmp.conservative} recorded value(s) are weaker than the reference's "
            f"(reference: {_json_show(derived.get('certified_pixels'))} pixels certified)"
        )
    return _Outcome(tuple(cmp.reasons), None, None, summary, checks)


# --- per-input (clause CERT.4) and sequential (clause CERT.5) certificates ---------------------


def _bound_note(rule: str) -> str:
    return "" if rule == "bonferroni" else f", bound {rule}"


def _claimed_list(doc: dict, key: str) -> list:
    value = doc["claims"].get(key)
    return value if isinstance(value, list) else []


def _budget_list_common(loaded: LoadedCertificate, kind: type):
    """The CERT.4/CERT.5 inputs of ``loaded`` (of type ``kind``) and their common part, every budget's
    masses checked against :data:`MAX_MASS_BITS` first."""
    inp = loaded.inputs
    assert isinstance(inp, kind)
    c = inp.common
    for r in c.budgets:
        _check_mass_size(c.method, c.n, c.k, r, c.attack)
    return inp, c


def _audit_classification_per_input(loaded: LoadedCertificate) -> _Outcome:
    """CERT.4: every budget's verdict and gap and every ratio's radius, re-derived from the one vote vector."""
    inp, c = _budget_list_common(loaded, ClassificationPerInputInputs)
    checks = ["structure", "digest", "reference"]
    if sum(inp.counts) != c.samples:
        return _Outcome((f"inputs.N: the votes sum to {sum(inp.counts)}, the certificate records N = {c.samples} "
                         "samples",), None, None, None, tuple(checks))
    try:
        rule = recorded_rule(loaded.doc)
        certs = [certify(inp.counts, c.alpha, c.n, c.k, r, c.attack, c.method, rule) for r in c.budgets]
        claimed = _claimed_list(loaded.doc, "radii")
        radii = [_radius(certs[0], ratio, claimed[i] if i < len(claimed) else None)
                 for i, ratio in enumerate(inp.ratios)]
    except MMCertError as exc:
        return _undefined(exc, checks)
    derived = classification_budget_claims(certs, radii)
    cmp = _compared(loaded, derived, bounds=False)
    reasons = list(cmp.reasons)
    budgets = [tuple(x.budget.r) for x in certs if x.certified]
    budgets += [tuple(rad.radius * v for v in rad.ratio) for rad in radii if rad.radius is not None]
    oracle_reasons, ran = _oracle_check(certs[0], budgets) if budgets else ([], False)
    if ran:
        checks.append("enumeration")
    reasons.extend(oracle_reasons)
    won = sum(x.certified for x in certs)
    summary = (
        f"classification per input, label {certs[0].label} CERTIFIED at {won} of {len(certs)} budgets "
        f"({', '.join(a.value for a in c.attack)}; {c.method.value}, N={c.samples}, alpha={c.alpha_text}"
        f"{_bound_note(rule)})"
    )
    if radii:
        summary += "; radii " + ", ".join(
            f"{'none' if rad.radius is None else 't=' + str(rad.radius)} along {list(rad.ratio)}" for rad in radii)
    return _Outcome(tuple(_order(reasons)), None, None, summary, tuple(checks))


def _audit_segmentation_per_input(loaded: LoadedCertificate, path: Path) -> _Outcome:
    """CERT.4: the reference ``segment`` of the one sidecar at every budget, compared as for CERT.1."""
    inp, c = _budget_list_common(loaded, SegmentationPerInputInputs)
    checks = ("structure", "digest", "sidecar digest", "reference")
    try:
        arrays = read_sidecar(path, inp.votes)
    except SidecarDigestError as exc:
        return _Outcome((str(exc),), None, None, None, checks[:3])
    axis = 1 if arrays.counts.ndim == 4 else 0
    sums = arrays.counts.sum(axis=axis, dtype=np.int64)
    if sums.size and not (sums == c.samples).all():
        return _Outcome((f"inputs.N: some pixel's votes sum to {int(sums[sums != c.samples].flat[0])}, the certificate "
                         f"records N = {c.samples} samples",), None, None, None, checks)
    rows = _claimed_list(loaded.doc, "budgets")
    try:
        rule = recorded_segmentation_rule(rows[0] if rows else {})
    except MMCertError as exc:
        return _Outcome((f"claims.budgets[0].alpha_split: {exc}",), None, None, None, checks)
    segment = segment_with_rule(rule)
    try:
        results = [
            segment(arrays.counts, c.alpha, c.n, c.k, r, [a.value for a in c.attack], c.method.value,
                    labels=arrays.labels, segmented_modality=inp.segmented_modality).to_json()
            for r in c.budgets
        ]
        derived = segmentation_budget_claims(results, c.alpha_text)
    except MMCertError as exc:
        return _undefined(exc, checks)
    cmp = _compared(loaded, derived, bounds=True)
    counts = ", ".join(str(d.get("certified_pixels")) for d in derived["budgets"][:6])
    summary = (
        f"segmentation per input, {len(c.budgets)} budgets, certified pixels {counts}"
        f"{', ...' if len(c.budgets) > 6 else ''} of {derived['budgets'][0].get('pixels')} "
        f"({', '.join(a.value for a in c.attack)}; {c.method.value}, N={c.samples}, alpha={c.alpha_text}"
        f"{_bound_note(rule)})"
    )
    if cmp.conservative:
        summary += f"; {cmp.conservative} recorded value(s) are weaker than the reference's"
    return _Outcome(tuple(cmp.reasons), None, None, summary, checks)


def _audit_sequential(loaded: LoadedCertificate) -> _Outcome:
    """CERT.5: N = N_j = sum(counts), the round's level alpha_j (CS.1) and every verdict at it, re-derived."""
    from ..bounds.sequential import Schedule

    inp, c = _budget_list_common(loaded, SequentialInputs)
    checks = ("structure", "digest", "reference")

    def fail(reason: str) -> _Outcome:
        return _Outcome((reason,), None, None, None, checks)

    try:
        schedule = Schedule(inp.schedule)
    except MMCertError as exc:
        return fail(f"inputs.schedule: {exc}")
    if inp.round > schedule.rounds:
        return fail(f"inputs.round: round {inp.round} of a schedule of {schedule.rounds} rounds")
    n_j = schedule.sizes[inp.round - 1]
    if c.samples != n_j or sum(inp.counts) != n_j:
        return fail(f"inputs.N: round {inp.round} of the schedule has N_j = {n_j} votes, the certificate records "
                    f"N = {c.samples} and its votes sum to {sum(inp.counts)}")
    try:
        rule = recorded_rule(loaded.doc)
        setting = Setting(c.n, c.k, c.method)
        budgets = [Budget(r, c.attack) for r in c.budgets]
        derived = sequential_claims(inp.counts, c.alpha, schedule, inp.round, setting, budgets, rule)
    except MMCertError as exc:
        return _undefined(exc, checks)
    cmp = _compared(loaded, derived, bounds=False)
    won = sum(row["certified"] for row in derived["budgets"])
    summary = (
        f"sequential classification, label {derived['label']} CERTIFIED at {won} of {len(budgets)} budgets after "
        f"round {inp.round} of {schedule.rounds} (N={n_j} of N_max={schedule.sizes[-1]}, level "
        f"{derived['round_level']} of alpha={c.alpha_text}{_bound_note(rule)})"
    )
    return _Outcome(tuple(_order(cmp.reasons)), None, None, summary, checks)


# --- feature smoothing (clause FS.10) ------------------------------------------------------------


def _audit_feature_smoothing(loaded: LoadedCertificate) -> _Outcome:
    """Re-derive the score bound, FCSB and radius from the recorded statistics (reference engine)."""
    from ..feature_smoothing.certificate import derive_claims, summary

    checks = ("structure", "digest", "reference")
    try:
        derived = derive_claims(loaded.inputs)
    except MMCertError as exc:
        return _undefined(exc, checks)
    cmp = _compared(loaded, derived, bounds=False)
    return _Outcome(tuple(cmp.reasons), None, None, summary(loaded.inputs, derived), checks)


# --- driver ---------------------------------------------------------------------------------


def audit_file(path) -> AuditReport:
    """Clause CERT.3: audit one certificate file; never raises for anything the file holds."""
    try:
        return _audit_file(path)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a bug must still not print a traceback or say "holds"
        return AuditReport(
            str(path), Verdict.INVALID,
            (f"internal error while auditing (please report): {type(exc).__name__}: {show_value(str(exc), 120)}",),
        )


def _audit_file(path) -> AuditReport:
    shown = str(path)
    p = Path(path)
    try:
        loaded = read_certificate(p)
    except CertificateFormatError as exc:
        return AuditReport(shown, Verdict.INVALID, (str(exc),))
    except MemoryError:
        return AuditReport(shown, Verdict.INVALID, ("out of memory while reading",))
    reasons: list[str] = []
    recorded = loaded.doc["digest"]["value"]
    actual = compute_digest(loaded.doc)
    if actual != recorded:
        reasons.append(f"digest mismatch: the file records sha256 {recorded[:16]}..., its contents hash to {actual[:16]}...")
    try:
        if loaded.kind is Kind.CLASSIFICATION:
            outcome = _audit_classification(loaded)
        elif loaded.kind is Kind.FEATURE_SMOOTHING:
            outcome = _audit_feature_smoothing(loaded)
        elif loaded.kind is Kind.CLASSIFICATION_PER_INPUT:
            outcome = _audit_classification_per_input(loaded)
        elif loaded.kind is Kind.SEGMENTATION_PER_INPUT:
            outcome = _audit_segmentation_per_input(loaded, p)
        elif loaded.kind is Kind.CLASSIFICATION_SEQUENTIAL:
            outcome = _audit_sequential(loaded)
        else:
            outcome = _audit_segmentation(loaded, p)
    except (CertificateFormatError, _TooLarge) as exc:
        return AuditReport(shown, Verdict.INVALID, tuple(reasons) + (str(exc),), loaded.kind)
    except MemoryError:
        return AuditReport(shown, Verdict.INVALID, ("out of memory while re-deriving",), loaded.kind)
    except Exception as exc:  # noqa: BLE001 - a bug must still not print a traceback or say "holds"
        return AuditReport(
            shown, Verdict.INVALID,
            tuple(reasons) + (f"internal error while re-deriving (please report): {type(exc).__name__}: {show_value(str(exc), 120)}",),
            loaded.kind,
        )
    reasons.extend(outcome.reasons)
    status = Verdict.FAILS if reasons else Verdict.HOLDS
    return AuditReport(
        shown, status, tuple(reasons), loaded.kind, outcome.certified, outcome.margin,
        outcome.summary, outcome.checks,
    )


def audit_files(paths: Iterable) -> tuple[AuditReport, ...]:
    """Audit several files in one process (the reference engine's caches are shared)."""
    return tuple(audit_file(p) for p in paths)


def exit_code(reports: Sequence[AuditReport]) -> int:
    """0 when every certificate holds, 1 when one fails (and none is invalid), 2 when one is invalid."""
    return max((EXIT_CODES[r.status] for r in reports), default=0)


__all__ = [
    "AuditReport",
    "EXIT_CODES",
    "MAX_MASS_BITS",
    "MAX_SIDECAR_BYTES",
    "ORACLE_ATOM_LIMIT",
    "Verdict",
    "audit_file",
    "audit_files",
    "exit_code",
]
