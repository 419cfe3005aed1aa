"""The certificate format itself: names, versions, limits, exact text forms and the digest (CERT.1, CERT.2).

Both sides of a certificate build on this module and on nothing of each other's: the writer
(:mod:`mmcert_verified.certificates.writer` and the kinds beside it) turns results into sealed documents, the
reader (:mod:`mmcert_verified.certificates.reader`) checks untrusted documents against these limits, and
the audit (:mod:`mmcert_verified.certificates.audit`) re-derives their claims.  Data flow: result -> certificate ->
audit; no module here imports the writer, the reader or the audit.

Spec versions (clause CERT.7): :data:`SPEC_VERSIONS` lists every version of ``spec/`` this tool reads,
with the kinds and members each one adds.  A certificate records the earliest version that defines
everything it uses, so a certificate written before a format bump keeps auditing after it.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from ..errors import InputFileError, InvalidParameterError, MMCertError
from ..reference.clopper_pearson import decimal_string

#: the value of the ``format`` member: marks a JSON file as an mmcert certificate
FORMAT = "mmcert-certificate"
#: version of this file format (clause CERT.1); bumped on any incompatible change
SCHEMA_VERSION = 1
DIGEST_ALGORITHM = "sha256"
#: significant digits of the reported Theorem 1 gap (rounded towards -infinity)
GAP_DIGITS = 17

# --- limits on what the reader accepts (a certificate is untrusted input) -------------------

#: largest certificate file read (bytes)
MAX_CERTIFICATE_BYTES = 4 * 1024 * 1024
#: largest sidecar .npz read (bytes, on disk and uncompressed)
MAX_SIDECAR_BYTES = 512 * 1024 * 1024
#: deepest nesting of arrays/objects (the format itself needs 6)
MAX_DEPTH = 16
#: most decimal digits of any integer token (no field needs more than 20)
MAX_INT_DIGITS = 100
#: longest string, longest float token
MAX_STRING = 4096
MAX_FLOAT_CHARS = 64
#: most modalities, most classes, most votes N, largest n_i / r_i
MAX_MODALITIES = 64
MAX_CLASSES = 100_000
MAX_VOTES = 10**7
MAX_ELEMENTS = 10**9
#: longest alpha text (decimal exponents are limited to 3 digits, p/q to 90 digits each)
MAX_ALPHA_CHARS = 200
#: most budgets (and most radius directions) one per-input or sequential certificate holds (CERT.4, CERT.5)
MAX_BUDGETS = 10_000
#: most rounds of a sequential schedule (CERT.5)
MAX_ROUNDS = 1_000

HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ALPHA_DECIMAL = re.compile(r"^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?$")
_ALPHA_RATIO = re.compile(r"^\d{1,90}/\d{1,90}$")
TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$")
LIBNAME = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
SIDECAR_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,200}\.npz$")


class Kind(str, enum.Enum):
    """What was certified (clauses CERT.1, CERT.4, CERT.5, FS.10)."""

    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    FEATURE_SMOOTHING = "feature_smoothing"  # spec FS.10; written by mmcert_verified.feature_smoothing.certificate
    #: CERT.4: one input's votes once, a claim per budget and a radius per direction
    CLASSIFICATION_PER_INPUT = "classification_per_input"
    SEGMENTATION_PER_INPUT = "segmentation_per_input"
    #: CERT.5: an adaptive (CS.1) certification stopped at a round of a fixed schedule
    CLASSIFICATION_SEQUENTIAL = "classification_sequential"


@dataclass(frozen=True)
class SpecVersion:
    """One version of ``spec/`` a certificate may follow (clause CERT.7): what it adds to the one before."""

    version: str
    #: the kinds this version introduces
    kinds: frozenset
    #: the clauses and members it introduces, in words (``docs/audit.md`` lists them too)
    adds: str


#: clause CERT.7: every spec version this tool reads, oldest first (a later bump appends a row)
SPEC_VERSIONS: dict[str, SpecVersion] = {
    "1.0": SpecVersion(
        "1.0",
        frozenset({Kind.CLASSIFICATION, Kind.SEGMENTATION, Kind.FEATURE_SMOOTHING}),
        "CERT.1-CERT.3: classification (bound methods CP.4-CP.7 in claims.alpha_split.rule), segmentation "
        "with its votes sidecar, feature smoothing (FS.10)",
    ),
    "1.1": SpecVersion(
        "1.1",
        frozenset({Kind.CLASSIFICATION_PER_INPUT, Kind.SEGMENTATION_PER_INPUT, Kind.CLASSIFICATION_SEQUENTIAL}),
        "CERT.4 per-input certificates (one input's votes, a claim per budget, a radius per ratio), CERT.5 "
        "sequential certificates (CS.1 schedule, stopping round, samples used), inputs.N (the samples drawn) "
        "in both; CERT.6 segmentation claims.alpha_split.rule naming a bound method other than bonferroni",
    ),
}


def spec_version_of(kind: Kind) -> str:
    """The earliest spec version that defines ``kind``: what a certificate of that kind records (CERT.7)."""
    kind = Kind(kind)
    for version, row in SPEC_VERSIONS.items():
        if kind in row.kinds:
            return version
    raise AssertionError(f"kind {kind.value} is in no spec version")  # pragma: no cover - table is complete


def kinds_of_version(version: str) -> frozenset:
    """Every kind a certificate following spec ``version`` may have (that version and the ones before it)."""
    out: set = set()
    for v, row in SPEC_VERSIONS.items():
        out |= row.kinds
        if v == version:
            return frozenset(out)
    raise KeyError(version)


class CertificateFormatError(InputFileError):
    """The file is not a well-formed certificate (unreadable, not JSON, wrong structure, over a limit)."""


class SidecarDigestError(MMCertError):
    """A segmentation certificate's sidecar does not have the SHA-256 the certificate records."""


# --- exact text forms ---------------------------------------------------------------------


def exact_text(value: Fraction) -> str:
    """A rational as exact text: a plain decimal when it terminates, else ``p/q``."""
    return decimal_string(Fraction(value))


def gap_text(numerator: int, denominator: int, digits: int = GAP_DIGITS) -> str:
    """numerator/denominator in scientific notation, ``digits`` significant digits, rounded down.

    Rounded towards -infinity, so a positive margin is never overstated.  Works
    on integers of any size without converting them to decimal strings.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator == 0:
        return "0"
    negative = numerator < 0
    num = -numerator if negative else numerator
    # e = floor(log10(num / den)), first estimated from bit lengths, then corrected exactly
    e = math.floor((num.bit_length() - denominator.bit_length()) * math.log10(2))

    def scaled(e: int) -> tuple[int, bool]:
        shift = digits - 1 - e
        if shift >= 0:
            top, bottom = num * 10**shift, denominator
        else:
            top, bottom = num, denominator * 10**-shift
        q, rem = divmod(top, bottom)
        return q, rem != 0

    while True:
        q, inexact = scaled(e)
        if q >= 10**digits:
            e += 1
        elif q < 10 ** (digits - 1):
            e -= 1
        else:
            break
    if negative and inexact:
        q += 1  # towards -infinity
        if q == 10**digits:
            q //= 10
            e += 1
    mant = str(q)
    return f"{'-' if negative else ''}{mant[0]}.{mant[1:]}e{e:+d}"


def parse_alpha_text(text: str) -> Fraction:
    """Clause CERT.1: alpha as recorded -- a decimal (``0.001``, ``1e-3``) or ``p/q``, in (0, 1).

    Stricter than the CLI: bounded length and exponent, so parsing a hostile
    certificate cannot build a huge number.
    """
    if not isinstance(text, str) or len(text) > MAX_ALPHA_CHARS:
        raise InvalidParameterError(f"alpha must be a short decimal or p/q string, got {show_value(text)}")
    s = text.strip()
    if not (_ALPHA_DECIMAL.match(s) or _ALPHA_RATIO.match(s)):
        raise InvalidParameterError(f"alpha {show_value(text)} is not a decimal or p/q")
    try:
        value = Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise InvalidParameterError(f"alpha {show_value(text)} is not a number") from None
    if not 0 < value < 1:
        raise InvalidParameterError(f"alpha must lie strictly between 0 and 1, got {show_value(text)}")
    return value


def show_value(value: object, limit: int = 60) -> str:
    """A short, single-line, printable rendering of an untrusted value for messages."""
    if isinstance(value, (dict, list)):
        text = type(value).__name__
    else:
        text = repr(value)
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- canonical serialization and digest (clause CERT.2) -------------------------------------


def canonical_bytes(doc: Mapping[str, Any]) -> bytes:
    """Clause CERT.2: the bytes the digest covers -- everything but ``digest``, canonically."""
    body = {key: value for key, value in doc.items() if key != "digest"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("utf-8")


def compute_digest(doc: Mapping[str, Any]) -> str:
    """Clause CERT.2: SHA-256 (hex) of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


def seal(doc: dict) -> dict:
    """Return a copy of ``doc`` with its ``digest`` member (re)computed (clause CERT.2)."""
    out = {key: value for key, value in doc.items() if key != "digest"}
    out["digest"] = {"algorithm": DIGEST_ALGORITHM, "value": compute_digest(out)}
    return out
