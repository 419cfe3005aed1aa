"""Feature-smoothing certificates: write, check the structure of, and re-derive (spec clause FS.10).

A certificate of kind ``feature_smoothing`` belongs to the versioned JSON family of
:mod:`mmcert_verified.certificate` (same header, provenance and SHA-256 digest, clauses CERT.1, CERT.2)::

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
:func:`mmcert_verified.certificate_reader.validate_certificate` for this kind): bounded number
texts, at most :data:`MAX_EPS` budgets, N at most :data:`MAX_SAMPLES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..certificate import (
    CertificateFormatError,
    Kind,
    Provenance,
    certificate_header,
    exact_text,
    parse_alpha_text,
    recorded_alpha,
    seal,
    write_certificate,
)
from ..errors import InvalidParameterError
from .bound import check_eps, check_sigma, check_tau, fcsb, radius
from ..threat.alpha import alpha_fraction
from .estimation import ScoreBound, ScoreStatistics, score_lower
from .gaussian import fixed_decimal_string

if TYPE_CHECKING:  # the encoder module imports torch; the audit path must not
    from .encoder import FSResult

#: most budgets eps per certificate
MAX_EPS = 1000
#: most samples N
MAX_SAMPLES = 10**12
#: longest sigma / eps / tau text
MAX_NUMBER_CHARS = 1200
#: longest exact statistic text (the reader's string limit)
MAX_STATISTIC_CHARS = 4096

#: sigma, eps, tau as recorded: a plain decimal (exponent of at most 3 digits) or p/q, no sign
_NUMBER = re.compile(r"^(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?|\d+/\d+)$")
#: exact statistics: a plain decimal or p/q (no exponent)
_EXACT = re.compile(r"^(?:\d+(?:\.\d+)?|\d+/\d+)$")
#: a reported decimal (fixed_decimal_string of a multiple of 10^-30)
_DECIMAL = re.compile(r"^-?\d{1,2}(?:\.\d{0,29}[1-9])?$")

_INPUT_KEYS = {"sigma", "eps", "tau", "alpha", "bound", "statistics"}
_STAT_KEYS = {"N", "sum_h", "sum_h_squared"}
_CLAIM_KEYS = {"score_lower", "bounds", "radius"}
_BOUND_KEYS = {"eps", "inner_lower", "cosine_lower"}
#: the score bounds a certificate may record (their statistics are sufficient, FS.5-FS.6)
CERTIFIABLE_BOUNDS = (ScoreBound.HOEFFDING, ScoreBound.BERNSTEIN)


@dataclass(frozen=True)
class FSInputs:
    """``inputs`` of a feature-smoothing certificate, validated and typed (clause FS.10)."""

    sigma_text: str
    sigma: Fraction
    eps_texts: tuple[str, ...]
    eps: tuple[Fraction, ...]
    tau_text: str
    tau: Fraction
    alpha_text: str
    alpha: Fraction
    bound: ScoreBound
    n: int
    sum_h: Fraction
    sum_h_squared: Fraction

    def statistics(self) -> ScoreStatistics:
        """The recorded statistics; InvalidParameterError when no samples in [0, 1] can have them."""
        return ScoreStatistics(self.n, self.sum_h, self.sum_h_squared)


# --- structure (clause FS.10; called by certificate_reader.validate_certificate) -------------------


def _short(value: Any, limit: int = 60) -> str:
    """A short printable rendering of an untrusted value for one-line messages."""
    text = type(value).__name__ if isinstance(value, (dict, list)) else repr(value)
    text = "".join(ch if ch.isprintable() and ord(ch) < 128 else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(where: str, message: str) -> CertificateFormatError:
    return CertificateFormatError(f"{where}: {message}")


def _object(value: Any, where: str, keys: set[str]) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {_short(value)}")
    missing = sorted(keys - value.keys())
    if missing:
        raise _fail(where, f"missing member {missing[0]!r}")
    extra = sorted(value.keys() - keys)
    if extra:
        raise _fail(where, f"unknown member {_short(extra[0])}")
    return value


def _text(value: Any, where: str, pattern: re.Pattern, limit: int) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {_short(value)}")
    if len(value) > limit or not pattern.match(value):
        raise _fail(where, f"malformed number {_short(value)}")
    return value


def _number(value: Any, where: str, pattern: re.Pattern = _NUMBER, limit: int = MAX_NUMBER_CHARS) -> Fraction:
    text = _text(value, where, pattern, limit)
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise _fail(where, f"{_short(value)} is not a number") from None


def _in_range(value: Fraction, where: str, check) -> Fraction:
    try:
        return check(value)
    except InvalidParameterError as exc:
        raise _fail(where, str(exc)) from None


def _integer(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {_short(value)}")
    if not lo <= value <= hi:
        raise _fail(where, f"{_short(value)} is outside [{lo}, {hi}]")
    return value


def _inputs(value: Any) -> FSInputs:
    inp = _object(value, "inputs", _INPUT_KEYS)
    sigma_text = inp["sigma"]
    sigma = _in_range(_number(sigma_text, "inputs.sigma"), "inputs.sigma", check_sigma)
    eps = inp["eps"]
    if not isinstance(eps, list):
        raise _fail("inputs.eps", f"expected an array, got {_short(eps)}")
    if not 1 <= len(eps) <= MAX_EPS:
        raise _fail("inputs.eps", f"expected 1 to {MAX_EPS} entries, got {len(eps)}")
    eps_values = tuple(_in_range(_number(e, f"inputs.eps[{i}]"), f"inputs.eps[{i}]", check_eps) for i, e in enumerate(eps))
    tau = _in_range(_number(inp["tau"], "inputs.tau"), "inputs.tau", check_tau)
    alpha_text = inp["alpha"]
    if not isinstance(alpha_text, str):
        raise _fail("inputs.alpha", f"expected a string, got {_short(alpha_text)}")
    try:
        alpha = parse_alpha_text(alpha_text)
    except InvalidParameterError as exc:
        raise _fail("inputs.alpha", str(exc)) from None
    allowed = [b.value for b in CERTIFIABLE_BOUNDS]
    if not isinstance(inp["bound"], str) or inp["bound"] not in allowed:
        raise _fail("inputs.bound", f"expected one of {allowed}, got {_short(inp['bound'])}")
    stats = _object(inp["statistics"], "inputs.statistics", _STAT_KEYS)
    n = _integer(stats["N"], "inputs.statistics.N", 1, MAX_SAMPLES)
    total = _number(stats["sum_h"], "inputs.statistics.sum_h", _EXACT, MAX_STATISTIC_CHARS)
    squares = _number(stats["sum_h_squared"], "inputs.statistics.sum_h_squared", _EXACT, MAX_STATISTIC_CHARS)
    return FSInputs(
        sigma_text, sigma, tuple(eps), eps_values, inp["tau"], tau, alpha_text, alpha, ScoreBound(inp["bound"]),
        n, total, squares,
    )


def _claims(value: Any) -> None:
    """The structure of ``claims`` (types and string forms only; the values are the audit's business)."""
    claims = _object(value, "claims", _CLAIM_KEYS)
    _text(claims["score_lower"], "claims.score_lower", _DECIMAL, 40)
    bounds = claims["bounds"]
    if not isinstance(bounds, list) or not 1 <= len(bounds) <= MAX_EPS:
        raise _fail("claims.bounds", f"expected an array of 1 to {MAX_EPS} objects, got {_short(bounds)}")
    for i, b in enumerate(bounds):
        where = f"claims.bounds[{i}]"
        _object(b, where, _BOUND_KEYS)
        _text(b["eps"], f"{where}.eps", _NUMBER, MAX_NUMBER_CHARS)
        _text(b["inner_lower"], f"{where}.inner_lower", _DECIMAL, 40)
        _text(b["cosine_lower"], f"{where}.cosine_lower", _DECIMAL, 40)
    r = claims["radius"]
    if r is not None and r != "inf":
        _text(r, "claims.radius", re.compile(r"^\d+(?:\.\d*[1-9])?$"), MAX_NUMBER_CHARS)


def validate_sections(doc: Mapping[str, Any]) -> FSInputs:
    """Clause FS.10 / CERT.1: check ``inputs`` and ``claims`` of a feature-smoothing certificate.

    Raises :class:`~mmcert_verified.certificate.CertificateFormatError` naming the first offending
    member; returns the typed inputs.  Whether the statistics can come from samples in [0, 1] is
    checked by :func:`derive_claims` (the audit reports such a file as failing, like a classification
    certificate whose inputs define no certification).
    """
    inputs = _inputs(doc["inputs"])
    _claims(doc["claims"])
    return inputs


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
        if len(s) <= MAX_NUMBER_CHARS and _NUMBER.match(s):
            if Fraction(s) != value:
                raise InvalidParameterError(f"{what} text {_short(text)} does not denote the certified {exact_text(value)}")
            return s
    try:
        out = exact_text(value)
    except ValueError:  # int -> str digit limits of huge values
        out = ""
    if not (0 < len(out) <= MAX_NUMBER_CHARS and _NUMBER.match(out)):
        raise InvalidParameterError(f"{what} {float(value)!r} has no exact text of at most {MAX_NUMBER_CHARS} characters")
    return out


def _statistic_text(value: Fraction, what: str) -> str:
    try:
        out = exact_text(Fraction(value))
    except ValueError:
        out = ""
    if not (0 < len(out) <= MAX_STATISTIC_CHARS and _EXACT.match(out)):
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
    doc["claims"] = derive_claims(_inputs(inputs))
    doc["provenance"] = (provenance or Provenance(engine="reference")).to_json()
    return seal(doc)


def certificate_from_result(
    result: "FSResult",
    *,
    alpha_text: str | None = None,
    sigma_text: str | None = None,
    eps_texts: Sequence[str] | None = None,
    tau_text: str | None = None,
    provenance: Provenance | None = None,
) -> dict:
    """Clause FS.10: the certificate of a :meth:`SmoothedEncoder.certify` result.

    Records the result's statistics, alpha, bound, sigma, eps and tau; refuses (InvalidParameterError)
    a result whose score bound, FCSB or radius differ from the reference engine's re-derivation.
    """
    if not result.bounds:
        raise InvalidParameterError("the result has no budgets eps to certify")
    sigma = result.radius.sigma
    if any(b.sigma != sigma for b in result.bounds):
        raise InvalidParameterError("the result's bounds were computed for different sigmas")
    doc = fs_certificate(
        result.statistics, alpha=result.alpha, bound=result.bound, sigma=sigma,
        eps=[b.eps for b in result.bounds], tau=result.radius.tau, alpha_text=alpha_text,
        sigma_text=sigma_text, eps_texts=eps_texts, tau_text=tau_text, provenance=provenance,
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
