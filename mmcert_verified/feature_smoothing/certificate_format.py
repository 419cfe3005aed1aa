"""The format of feature-smoothing certificates (clause FS.10 / CERT.1): the ``inputs`` and ``claims``
sections' structure, validated without arithmetic.

The certificate reader calls :func:`validate_sections`; the writer
(:mod:`mmcert_verified.feature_smoothing.certificate`) and the audit use :class:`FSInputs`.  This module
imports only the shared format (:mod:`mmcert_verified.certificates.format`), never the writer, so data
flows one way: writer -> file -> reader -> audit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from ..certificates.format import CertificateFormatError, parse_alpha_text
from ..errors import InvalidParameterError
from .bound import check_eps, check_sigma, check_tau
from .estimation import ScoreBound, ScoreStatistics

#: most budgets eps per certificate
MAX_EPS = 1000
#: most samples N
MAX_SAMPLES = 10**12
#: longest sigma / eps / tau text
MAX_NUMBER_CHARS = 1200
#: longest exact statistic text (the reader's string limit)
MAX_STATISTIC_CHARS = 4096

#: sigma, eps, tau as recorded: a plain decimal (exponent of at most 3 digits) or p/q, no sign
NUMBER = re.compile(r"^(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?|\d+/\d+)$")
#: exact statistics: a plain decimal or p/q (no exponent)
EXACT = re.compile(r"^(?:\d+(?:\.\d+)?|\d+/\d+)$")
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


def _number(value: Any, where: str, pattern: re.Pattern = NUMBER, limit: int = MAX_NUMBER_CHARS) -> Fraction:
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


def parse_inputs(value: Any) -> FSInputs:
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
    total = _number(stats["sum_h"], "inputs.statistics.sum_h", EXACT, MAX_STATISTIC_CHARS)
    squares = _number(stats["sum_h_squared"], "inputs.statistics.sum_h_squared", EXACT, MAX_STATISTIC_CHARS)
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
        _text(b["eps"], f"{where}.eps", NUMBER, MAX_NUMBER_CHARS)
        _text(b["inner_lower"], f"{where}.inner_lower", _DECIMAL, 40)
        _text(b["cosine_lower"], f"{where}.cosine_lower", _DECIMAL, 40)
    r = claims["radius"]
    if r is not None and r != "inf":
        _text(r, "claims.radius", re.compile(r"^\d+(?:\.\d*[1-9])?$"), MAX_NUMBER_CHARS)


def validate_sections(doc: Mapping[str, Any]) -> FSInputs:
    """Clause FS.10 / CERT.1: check ``inputs`` and ``claims`` of a feature-smoothing certificate.

    Raises :class:`~mmcert_verified.certificates.writer.CertificateFormatError` naming the first offending
    member; returns the typed inputs.  Whether the statistics can come from samples in [0, 1] is
    checked by :func:`derive_claims` (the audit reports such a file as failing, like a classification
    certificate whose inputs define no certification).
    """
    inputs = parse_inputs(doc["inputs"])
    _claims(doc["claims"])
    return inputs
