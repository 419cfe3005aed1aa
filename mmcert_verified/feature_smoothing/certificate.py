"""Feature-smoothing certificates: write, check the structure of, and re-derive (spec clause FS.10).

A certificate of kind ``feature_smoothing`` belongs to the versioned JSON family of
:mod:`mmcert_verified.certificates.writer` (same header, provenance and SHA-256 digest, clauses CERT.1, CERT.2)::

    "inputs": {"sigma": "0.25", "eps": ["0.1", "0.5"], "tau": "0.5", "alpha": "0.001",
               "bound": "hoeffding" | "bernstein",
               "statistics": {"N": 1000, "sum_h": "<exact>", "sum_h_squared": "<exact>"}}
    "claims": {"score_lower": "<decimal>",
               "bounds": [{"eps": "0.1", "inner_lower": "<decimal>", "cosine_lower": "<decimal>"}, ...],
               "radius": "<decimal>" | null | "inf"}

``statistics`` are the exact sufficient statistics of the N recorded samples h_j = (1 + c_j)/2
(clause FS.5): N, sum h_j and sum h_j^2 as exact rationals (a plain decimal, or ``p/q``); the
float cosines are dyadic, so the sums are exact.  Every claim is a pure function of the inputs,
computed by the reference engine: ``score_lower`` by FS.5 (Hoeffding) or FS.6 (empirical Bernstein)
at level 1 - alpha, each bound by FS.2-FS.3 from ``score_lower``, ``radius`` by FS.4 at ``tau``
(the decimals are those of ``mmcert fs certify`` / ``mmcert fs score``: rounded down at 10^-30).
:func:`derive_claims` is that function; the writer records its output and ``mmcert audit``
(clause CERT.3) recomputes it from the recorded statistics and compares member by member.

Guarantee (of a certificate that audits as holding): with probability >= 1 - alpha over the N noise
draws that produced the statistics, S(x) >= score_lower, and then for every x' with
||x' - x||_2 <= eps: <f(x), F(x')> >= inner_lower and cos(F(x'), f(x)) >= cosine_lower (FS.2,
FS.3), and cos(F(x'), f(x)) >= tau for every eps <= radius (FS.4).  The audit cannot check that the
statistics come from the encoder's noise (only the provenance's digests and seed can tie them to
a model and an input); it checks that the claims follow from them.

Reading is defensive (:func:`validate_sections` is called by
:func:`mmcert_verified.certificates.reader.validate_certificate` for this kind): bounded number
texts, at most :data:`MAX_EPS` budgets, N at most :data:`MAX_SAMPLES`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..certificates.writer import (
    Kind,
    Provenance,
    certificate_header,
    exact_text,
    show_value,
    recorded_alpha,
    seal,
    write_certificate,
)
from ..errors import InvalidParameterError
from .bound import check_eps, check_sigma, check_tau, fcsb, radius
from ..threat.alpha import alpha_fraction
from .estimation import ScoreBound, ScoreStatistics, score_lower
from .certificate_format import (  # noqa: F401 (FSInputs, validate_sections: public here too)
    CERTIFIABLE_BOUNDS, EXACT, MAX_EPS, MAX_NUMBER_CHARS, MAX_SAMPLES, MAX_STATISTIC_CHARS, NUMBER, FSInputs,
    parse_inputs, validate_sections,
)
from .gaussian import fixed_decimal_string

if TYPE_CHECKING:  # the encoder module imports torch; the audit path must not
    from .encoder import FSResult

# --- the claims: a pure function of the inputs (clauses FS.2-FS.6) ---------------------------------


def radius_text(value) -> str | None:
    """The radius as ``mmcert fs certify`` prints it: a decimal, null (none), or "inf" (S = 1)."""
    if value.unbounded:
        return "inf"
    return None if value.value is None else fixed_decimal_string(value.value)


def derive_claims(inputs: FSInputs) -> dict:
    """Clause FS.10: the ``claims`` section, by the reference engine only (FS.2-FS.6; never the fast path).

    Raises InvalidParameterError when the inputs define no certification (inconsistent statistics,
    the Bernstein bound with N = 1).
    """
    low = score_lower(inputs.statistics(), inputs.alpha, inputs.bound)
    bounds = []
    for text, eps in zip(inputs.eps_texts, inputs.eps):
        b = fcsb(low, inputs.sigma, eps)
        bounds.append(
            {"eps": text, "inner_lower": fixed_decimal_string(b.inner_lower),
             "cosine_lower": fixed_decimal_string(b.cosine_lower)}
        )
    return {
        "score_lower": fixed_decimal_string(low),
        "bounds": bounds,
        "radius": radius_text(radius(low, inputs.sigma, inputs.tau)),
    }


def summary(inputs: FSInputs, claims: Mapping[str, Any]) -> str:
    """One line describing a re-derivation (for ``mmcert audit``)."""
    parts = [f"cos >= {b['cosine_lower']} at eps {_shorten(b['eps'])}" for b in claims["bounds"][:3]]
    if len(claims["bounds"]) > 3:
        parts.append(f"... ({len(claims['bounds'])} budgets)")
    r = claims["radius"]
    rad = "no radius" if r is None else f"radius {r}"
    return (
        f"feature_smoothing, S >= {claims['score_lower']} ({inputs.bound.value}, N={inputs.n}, "
        f"alpha={inputs.alpha_text}), sigma={_shorten(inputs.sigma_text)}; {'; '.join(parts)}; "
        f"{rad} (cos >= {_shorten(inputs.tau_text)})"
    )


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- writing ------------------------------------------------------------------------------------


def recorded_number(text: str | None, value: Fraction, what: str) -> str:
    """The text to record for sigma / eps / tau: the caller's text when it is in the recorded form
    and denotes exactly ``value``, else the exact value (a plain decimal or p/q)."""
    value = Fraction(value)
    if text is not None:
        s = str(text).strip()
        if len(s) <= MAX_NUMBER_CHARS and NUMBER.match(s):
            if Fraction(s) != value:
                raise InvalidParameterError(f"{what} text {show_value(text)} does not denote the certified {exact_text(value)}")
            return s
    try:
        out = exact_text(value)
    except ValueError:  # int -> str digit limits of huge values
        out = ""
    if not (0 < len(out) <= MAX_NUMBER_CHARS and NUMBER.match(out)):
        raise InvalidParameterError(f"{what} {float(value)!r} has no exact text of at most {MAX_NUMBER_CHARS} characters")
    return out


def _statistic_text(value: Fraction, what: str) -> str:
    try:
        out = exact_text(Fraction(value))
    except ValueError:
        out = ""
    if not (0 < len(out) <= MAX_STATISTIC_CHARS and EXACT.match(out)):
        raise InvalidParameterError(f"the statistic {what} has no exact text of at most {MAX_STATISTIC_CHARS} characters")
    return out


def fs_certificate(
    statistics: ScoreStatistics,
    *,
    alpha,
    bound: ScoreBound | str,
    sigma,
    eps: Sequence,
    tau=Fraction(1, 2),
    alpha_text: str | None = None,
    sigma_text: str | None = None,
    eps_texts: Sequence[str] | None = None,
    tau_text: str | None = None,
    provenance: Provenance | None = None,
) -> dict:
    """Clause FS.10: the sealed certificate (a dict) of a score bound and its FCSB / radius claims.

    The claims are computed here by :func:`derive_claims` (reference engine) from ``statistics``;
    texts, when given, are recorded as given if they denote the values exactly.  Guarantee: the
    returned dict passes the reader's structure checks and audits as holding.
    """
    alpha = alpha_fraction(alpha)
    bound = ScoreBound(bound)
    if bound not in CERTIFIABLE_BOUNDS:
        raise InvalidParameterError(
            f"a certificate records sufficient statistics, which the {bound.value} bound does not have; "
            f"use one of {[b.value for b in CERTIFIABLE_BOUNDS]}"
        )
    if not isinstance(statistics, ScoreStatistics):
        raise InvalidParameterError("statistics must be a ScoreStatistics (statistics_from_cosines)")
    if statistics.n > MAX_SAMPLES:
        raise InvalidParameterError(f"N = {statistics.n} exceeds the {MAX_SAMPLES} samples a certificate records")
    sigma = check_sigma(Fraction(sigma))
    tau = check_tau(Fraction(tau))
    eps = [check_eps(Fraction(e)) for e in eps]
    if not 1 <= len(eps) <= MAX_EPS:
        raise InvalidParameterError(f"a certificate records 1 to {MAX_EPS} budgets eps, got {len(eps)}")
    if eps_texts is not None and len(eps_texts) != len(eps):
        raise InvalidParameterError("eps_texts must have one text per eps")
    texts = [recorded_number(None if eps_texts is None else eps_texts[i], e, "eps") for i, e in enumerate(eps)]
    inputs = {
        "sigma": recorded_number(sigma_text, sigma, "sigma"),
        "eps": texts,
        "tau": recorded_number(tau_text, tau, "tau"),
        "alpha": recorded_alpha(alpha_text, alpha),
        "bound": bound.value,
        "statistics": {
            "N": statistics.n,
            "sum_h": _statistic_text(statistics.total, "sum_h"),
            "sum_h_squared": _statistic_text(statistics.total_squares, "sum_h_squared"),
        },
    }
    doc = certificate_header(Kind.FEATURE_SMOOTHING)
    doc["inputs"] = inputs
    doc["claims"] = derive_claims(parse_inputs(inputs))
    doc["provenance"] = (provenance or Provenance(engine="reference")).to_json()
    return seal(doc)


def certificate_from_result(result: "FSResult", **texts) -> dict:
    """Clause FS.10: the certificate of a :meth:`SmoothedEncoder.certify` result.

    Records the result's statistics, alpha, bound, sigma, eps and tau; ``texts`` are
    :func:`fs_certificate`'s keyword-only ``alpha_text``, ``sigma_text``, ``eps_texts``, ``tau_text`` and
    ``provenance`` (an unknown keyword is a TypeError there).  Refuses (InvalidParameterError) a result whose
    score bound, FCSB or radius differ from the reference engine's re-derivation.
    """
    if not result.bounds:
        raise InvalidParameterError("the result has no budgets eps to certify")
    sigma = result.radius.sigma
    if any(b.sigma != sigma for b in result.bounds):
        raise InvalidParameterError("the result's bounds were computed for different sigmas")
    doc = fs_certificate(
        result.statistics, alpha=result.alpha, bound=result.bound, sigma=sigma,
        eps=[b.eps for b in result.bounds], tau=result.radius.tau, **texts,
    )
    claims = doc["claims"]
    mine = {
        "score_lower": fixed_decimal_string(result.score_lower),
        "bounds": [fixed_decimal_string(b.inner_lower) for b in result.bounds]
        + [fixed_decimal_string(b.cosine_lower) for b in result.bounds],
        "radius": radius_text(result.radius),
    }
    derived = {
        "score_lower": claims["score_lower"],
        "bounds": [b["inner_lower"] for b in claims["bounds"]] + [b["cosine_lower"] for b in claims["bounds"]],
        "radius": claims["radius"],
    }
    if mine != derived:
        raise InvalidParameterError("the result's bounds are not the reference engine's re-derivation from its statistics")
    return doc


def write_fs_certificate(doc: Mapping[str, Any], path) -> Path:
    """Write a sealed feature-smoothing certificate atomically; never overwrites (InputFileError)."""
    if doc.get("kind") != Kind.FEATURE_SMOOTHING.value:
        raise InvalidParameterError("not a feature-smoothing certificate")
    return write_certificate(doc, path)


__all__ = [
    "CERTIFIABLE_BOUNDS",
    "FSInputs",
    "MAX_EPS",
    "MAX_SAMPLES",
    "certificate_from_result",
    "derive_claims",
    "fs_certificate",
    "recorded_number",
    "summary",
    "validate_sections",
    "write_fs_certificate",
]
