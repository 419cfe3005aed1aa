"""Certificates: the on-disk record of a certification (spec clauses CERT.1 and CERT.2).

A certificate is one UTF-8 JSON object that holds everything needed to
re-derive its claims without the model (clause CERT.1)::

    {
      "format": "mmcert-certificate",  "schema_version": 1,
      "kind": "classification" | "segmentation" | "feature_smoothing",  "spec_version": "1.0",
      "inputs":  {...},    what the claims are derived from (votes, alpha, threat model)
      "claims":  {...},    what the certifier derived from them (bounds, decision, radius / metrics)
      "provenance": {...}, how and when it was made (tool and library versions, seed, digests, time)
      "digest": {"algorithm": "sha256", "value": "<64 hex digits>"}
    }

``docs/certificate.schema.json`` is the JSON Schema of this format and
``docs/audit.md`` describes it field by field.  Every claim is a pure function
of the inputs computed by the reference engine, so ``mmcert audit``
(:mod:`mmcert_verified.certificates.audit`, clause CERT.3) recomputes and compares them.

Clause CERT.2 (digest): ``digest.value`` is the SHA-256 of the *canonical
serialization* of the certificate without its ``digest`` member -- JSON with
sorted keys, no whitespace (separators ``,`` and ``:``), ``ensure_ascii`` and
UTF-8 (:func:`canonical_bytes`).  A segmentation certificate's votes and labels
live in a sidecar ``.npz`` next to it, named in ``inputs.votes`` with its own
SHA-256, so the digest covers them too.  The digest detects corruption and
edits made without recomputing it; it is **not** a signature (anyone can
recompute it), which is why the audit re-derives every claim as well.

Reading is defensive (the audit reads files from anywhere) and lives in
:mod:`mmcert_verified.certificates.reader`.  The format's names, limits, spec versions, text forms and
digest live in :mod:`mmcert_verified.certificates.format`, which both import (and this module re-exports):
the writer checks what it writes with the reader, the reader never imports the writer.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import platform
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputFileError, InvalidParameterError, MMCertError
from ..reference.certify import Certification, RadiusResult, alpha_fraction
from ..reference.certify import radius as reference_radius
from ..threat_model import Method, parse_attacks
from .format import DIGEST_ALGORITHM, FORMAT, GAP_DIGITS, HEX64, LIBNAME, MAX_ALPHA_CHARS
from .format import MAX_CERTIFICATE_BYTES, MAX_CLASSES, MAX_DEPTH, MAX_ELEMENTS, MAX_FLOAT_CHARS
from .format import MAX_INT_DIGITS, MAX_MODALITIES, MAX_SIDECAR_BYTES, MAX_STRING, MAX_VOTES
from .format import SCHEMA_VERSION, SIDECAR_NAME, SPEC_VERSIONS, TIME_PATTERN, CertificateFormatError
from .format import Kind, SidecarDigestError, canonical_bytes, compute_digest, exact_text, gap_text
from .format import parse_alpha_text, seal, show_value, spec_version_of
from .reader import parse_certificate_bytes, validate_certificate

# --- provenance -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries the numbers depend on (clause CERT.1 provenance)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("mmcert-verified", "numpy", "scipy", "mpmath"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - installed in practice
            continue
    return out


def utc_now() -> str:
    """The current time as ISO 8601 UTC with a ``Z`` (seconds resolution)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Provenance:
    """Optional facts about how a certificate was made (clause CERT.1, ``provenance``).

    None of these are re-derivable, so the audit only checks their form (and
    the digest covers them).  ``seed``/``rng``: the sub-sampling RNG and its
    seed; ``model_sha256``/``input_sha256``: SHA-256 of the model weights and of
    the input; ``created``: ISO 8601 UTC time (default: now); ``engine``: the
    engine that made the original decision (the claims are always the
    reference engine's); ``libraries``: override the recorded versions
    (default: this installation's).
    """

    seed: int | None = None
    rng: str | None = None
    model_sha256: str | None = None
    input_sha256: str | None = None
    created: str | None = None
    engine: str | None = None
    libraries: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**256
        ):
            raise InvalidParameterError(f"seed must be an integer in [0, 2**256), got {self.seed!r}")
        for name in ("model_sha256", "input_sha256"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, str) and HEX64.match(v)):
                raise InvalidParameterError(f"{name} must be 64 lowercase hex digits, got {show_value(v)}")
        for name in ("rng", "engine"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, str) and 0 < len(v) <= 128 and v.isprintable()):
                raise InvalidParameterError(f"{name} must be a short printable string, got {show_value(v)}")
        if self.created is not None and not (isinstance(self.created, str) and TIME_PATTERN.match(self.created)):
            raise InvalidParameterError(f"created must look like 2024-06-01T12:00:00Z, got {show_value(self.created)}")

    def to_json(self) -> dict:
        from .. import __version__

        libs = dict(self.libraries) if self.libraries is not None else library_versions()
        return {
            "tool": "mmcert-verified",
            "tool_version": __version__,
            "libraries": libs,
            "engine": self.engine,
            "seed": self.seed,
            "rng": self.rng,
            "model_sha256": self.model_sha256,
            "input_sha256": self.input_sha256,
            "created": self.created or utc_now(),
        }


def _header(kind: Kind) -> dict:
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "kind": kind.value,
            "spec_version": spec_version_of(kind)}


def certificate_header(kind: Kind) -> dict:
    """Clause CERT.1: the members every certificate starts with (format, schema_version, kind, spec_version)."""
    return _header(Kind(kind))


# --- classification (clause CERT.1) ---------------------------------------------------------


def recorded_alpha(alpha_text: str | None, alpha: Fraction) -> str:
    """The alpha text to record: the caller's text when it denotes exactly ``alpha``, else exact."""
    if alpha_text is not None:
        try:
            if parse_alpha_text(str(alpha_text)) == alpha:
                return str(alpha_text).strip()
        except InvalidParameterError:
            pass
        try:
            given = alpha_fraction(str(alpha_text))
        except InvalidParameterError:
            given = None
        if given is not None and given != alpha:
            raise InvalidParameterError(
                f"alpha_text {show_value(alpha_text)} does not denote the certified alpha {exact_text(alpha)}"
            )
    text = exact_text(alpha)
    if "/" not in text and "." in text:  # a terminating decimal: 0.000123 may be shorter as 123e-6
        digits = len(text.split(".")[1])
        mantissa = int(text.replace(".", ""))
        sci = f"{mantissa}e-{digits}"
        if len(sci) < len(text) and digits < 1000:
            text = sci
    return text


def classification_inputs(result: Certification, alpha_text: str, ratio: Sequence[int] | None) -> dict:
    """The ``inputs`` section of a classification certificate (clause CERT.1)."""
    return {
        "method": result.method.value,
        "n": list(result.setting.n),
        "k": list(result.setting.k),
        "r": list(result.budget.r),
        "attack": [a.value for a in result.budget.attack],
        "counts": list(result.votes.counts),
        "alpha": alpha_text,
        "radius_ratio": None if ratio is None else [int(c) for c in ratio],
    }


def bound_rule(name):
    """The bound method recorded as ``alpha_split.rule`` (clauses CP.4-CP.7)."""
    from ..bounds.rules import bound_rule as lookup

    return lookup(name)


def classification_claims(result: Certification, radius: RadiusResult | None) -> dict:
    """The ``claims`` section: every value the reference engine derives from the inputs.

    The audit (clause CERT.3) rebuilds this dict from a fresh re-derivation and
    compares it member by member, so it must depend on the inputs only.
    """
    b, d, m = result.bounds, result.decision, result.masses
    slack = d.a - d.b - d.threshold  # Theorem 1 gap = slack / P_n' (clause T1.4)
    claims = {
        "N": result.votes.total,
        "C": result.votes.classes,
        "alpha_split": bound_rule(b.rule).alpha_split(result.alpha, result.votes.classes),
        "label": b.label,
        "runner_up": b.runner_up,
        "p_a_lower": exact_text(b.p_a_lower),
        "p_b_upper": exact_text(b.p_b_upper),
        "certified": bool(d.certified),
        "theorem1_gap": gap_text(slack, m.p_n_prime),
        "largest_certified": None,
    }
    if radius is not None:
        claims["largest_certified"] = {
            "t": radius.radius,
            "r": None if radius.radius is None else [radius.radius * c for c in radius.ratio],
            "search_limit": radius.search_limit,
        }
    return claims


def budget_direction(r: Sequence[int]) -> tuple[int, ...] | None:
    """r divided by the gcd of its entries: the direction whose radius the writer records."""
    g = math.gcd(*r)
    return None if g == 0 else tuple(int(x) // g for x in r)


def classification_certificate(
    result: Certification,
    *,
    alpha_text: str | None = None,
    provenance: Provenance | None = None,
    radius: RadiusResult | None = None,
) -> dict:
    """Clause CERT.1: the sealed certificate (a dict) for one reference certification.

    ``alpha_text`` is recorded as given when it denotes ``result.alpha``
    exactly (else the exact value is recorded; a text denoting another value
    is an error).  ``radius``, when given, must come from the same votes,
    alpha, setting and attack; it is recorded as the largest certified budget
    along its ratio.  Guarantee: the returned dict audits as holding.
    """
    text = recorded_alpha(alpha_text, result.alpha)
    ratio = None
    if radius is not None:
        if (
            radius.attack != result.budget.attack
            or radius.bounds != result.bounds
            or radius.label != result.label
            or len(radius.ratio) != result.setting.modalities
        ):
            raise InvalidParameterError("the radius was computed for other votes, alpha or attack than the certification")
        ratio = radius.ratio
    doc = _header(Kind.CLASSIFICATION)
    doc["inputs"] = classification_inputs(result, text, ratio)
    doc["claims"] = classification_claims(result, radius)
    doc["provenance"] = (provenance or Provenance(engine="reference")).to_json()
    return seal(doc)


def radius_along_budget(result: Certification) -> RadiusResult | None:
    """Clause R1 along the certification's own budget direction r / gcd(r).

    None when r = 0 (no direction) or when the reference radius search
    rejects the direction (it may probe budgets that are not valid for the
    setting); the certificate then records no largest budget.
    """
    ratio = budget_direction(result.budget.r)
    if ratio is None:
        return None
    try:
        return reference_radius(
            result.votes.counts, result.alpha, result.setting.n, result.setting.k, ratio,
            result.budget.attack, result.method, result.bounds.rule,
        )
    except InvalidParameterError:
        return None


def write_certificate(doc: Mapping[str, Any], path) -> Path:
    """Write a sealed certificate as indented JSON; never overwrites (clause CERT.1).

    Raises :class:`InputFileError` when ``path`` exists or cannot be created and
    :class:`InvalidParameterError` when ``doc`` is not sealed with a correct digest.
    """
    digest = doc.get("digest")
    if not isinstance(digest, dict) or digest.get("value") != compute_digest(doc):
        raise InvalidParameterError("refusing to write a certificate whose digest is missing or wrong; seal() it")
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True, allow_nan=False) + "\n"
    data = text.encode("utf-8")
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise InvalidParameterError(
            f"the certificate would be {len(data)} bytes, over the {MAX_CERTIFICATE_BYTES}-byte limit audits accept"
        )
    try:
        validate_certificate(parse_certificate_bytes(data))
    except CertificateFormatError as exc:
        raise InvalidParameterError(f"refusing to write a certificate the audit would reject: {exc}") from None
    path = Path(path)
    _write_new(path, data)
    return path


def _write_new(path: Path, data: bytes, point: str = "certificate") -> None:
    """Write a new file atomically (temp + fsync + link, clause RUN.1); never overwrites."""
    from ..atomic_io import write_atomic

    write_atomic(path, data, replace=False, point=point)


def write_classification_certificate(
    result: Certification, path, *, alpha_text: str | None = None, provenance: Provenance | None = None
) -> Path:
    """``mmcert certify --out``: write the certificate of ``result``, with the radius along r.

    Refuses to overwrite an existing file (:class:`InputFileError`).
    """
    doc = classification_certificate(
        result, alpha_text=alpha_text, provenance=provenance, radius=radius_along_budget(result)
    )
    return write_certificate(doc, path)


# --- segmentation (clauses CERT.1, CERT.2) -------------------------------------------------


def sidecar_path(path) -> Path:
    """Where the votes of the certificate at ``path`` go: ``<stem>.votes.npz`` next to it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.votes.npz")


def _plain_json(value: Any) -> Any:
    """``value`` as plain JSON data (numpy scalars unwrapped, non-finite floats rejected)."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise InvalidParameterError(f"the segmentation result holds a non-JSON value {show_value(obj)}")

    try:
        return json.loads(json.dumps(value, default=default, allow_nan=False))
    except ValueError as exc:
        raise InvalidParameterError(f"the segmentation result is not finite JSON: {exc}") from None


#: how a segmentation certificate spends alpha (clauses SEG.1-SEG.3), recorded in its claims
SEGMENTATION_ALPHA_SPLIT = {
    "rule": "holm",
    "family": "the pixels of each image",
    "per_pixel": "bonferroni over the C labels at level alpha*_j / C",
}


#: the spec version that adds bound methods other than bonferroni to segmentation certificates (CERT.6)
SEGMENTATION_BOUND_SPEC = "1.1"


def segmentation_claims(result_json: Mapping[str, Any], alpha_text: str) -> dict:
    """The ``claims`` section of a segmentation certificate: the result, normalised.

    ``engine`` (which engine ran) moves to the provenance and ``alpha`` is the
    recorded alpha text, so that the reference engine's re-derivation
    (clause CERT.3) yields the identical dict.  A result of a bound method other
    than bonferroni carries its own ``alpha_split`` (``rule`` = the method, as for
    classification, clause CERT.6), which is kept; otherwise the Holm split of
    SEG.1-SEG.3 is recorded as always.
    """
    claims = _plain_json(dict(result_json))
    if not isinstance(claims, dict):  # pragma: no cover - dict() above
        raise InvalidParameterError("the segmentation result must be a JSON object")
    claims.pop("engine", None)
    claims["alpha"] = alpha_text
    claims.setdefault("alpha_split", dict(SEGMENTATION_ALPHA_SPLIT))
    return claims


def _integer_array(arr, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(f"{what} must be an integer array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def refuse_existing(path) -> None:
    """:class:`InputFileError` when the certificate at ``path`` or its sidecar exists (nothing is overwritten)."""
    path = Path(path)
    for p in (path, sidecar_path(path)):
        if p.exists() or p.is_symlink():
            raise InputFileError(f"{p} already exists; refusing to overwrite it")


def sidecar_votes(path, counts, labels) -> tuple[bytes, dict]:
    """Clause CERT.2: the sidecar bytes (``np.savez`` of ``counts`` and, when given, ``labels``) of the
    certificate at ``path``, and the ``inputs.votes`` member naming them by file, size and SHA-256."""
    counts_arr = _integer_array(counts, "counts")
    arrays = {"counts": counts_arr}
    if labels is not None:
        arrays["labels"] = _integer_array(labels, "labels")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    if len(data) > MAX_SIDECAR_BYTES:
        raise InvalidParameterError(f"the votes take {len(data)} bytes, over the {MAX_SIDECAR_BYTES}-byte sidecar limit")
    ref = {
        "file": sidecar_path(path).name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "counts_shape": list(counts_arr.shape),
        "labels": labels is not None,
    }
    return data, ref


def write_with_sidecar(doc: Mapping[str, Any], path, data: bytes) -> Path:
    """Write the sidecar ``data`` and then the sealed certificate ``doc`` at ``path``, both atomically
    (clause RUN.1) and never overwriting; when the certificate cannot be written the sidecar is removed."""
    path = Path(path)
    side = sidecar_path(path)
    _write_new(side, data, point="sidecar")
    try:
        write_certificate(doc, path)
    except MMCertError:
        side.unlink(missing_ok=True)  # we created it just above
        raise
    return path


def write_segmentation_certificate(
    path,
    counts,
    labels,
    *,
    alpha_text: str,
    n: Sequence[int],
    k: Sequence[int],
    r: Sequence[int],
    attack,
    method,
    segmented_attack=None,
    r_o: int = 0,
    result_json: Mapping[str, Any],
    segmented_modality: int = 0,
    provenance: Provenance | None = None,
) -> Path:
    """``mmcert segment --out``: write a segmentation certificate and its ``.npz`` sidecar.

    The sidecar (``<stem>.votes.npz``, plain ``np.savez`` of ``counts`` and,
    when given, ``labels``) is referenced by name, size and SHA-256 from
    ``inputs.votes`` (clause CERT.2).  ``result_json`` is the segmentation
    result's ``to_json()`` as computed (its ``engine`` member, if any, is moved
    to the provenance).  ``segmented_modality`` is 0-based, as in ``segment``.
    Refuses to overwrite either file (:class:`InputFileError`); on failure
    nothing is left behind.
    """
    path = Path(path)
    refuse_existing(path)
    text = recorded_alpha(str(alpha_text), alpha_fraction(str(alpha_text)))
    n_t = [int(v) for v in n]
    attacks = parse_attacks(attack, len(n_t))
    seg_att = None if segmented_attack is None else parse_attacks(segmented_attack, 1)[0].value
    data, votes_ref = sidecar_votes(path, counts, labels)
    engine = result_json.get("engine") if isinstance(result_json, Mapping) else None
    prov = provenance or Provenance(engine=str(engine) if engine else None)
    doc = _header(Kind.SEGMENTATION)
    doc["inputs"] = {
        "method": Method(method).value,
        "n": n_t,
        "k": [int(v) for v in k],
        "r": [int(v) for v in r],
        "attack": [a.value for a in attacks],
        "alpha": text,
        "segmented_attack": seg_att,
        "r_o": int(r_o),
        "segmented_modality": int(segmented_modality),
        "votes": votes_ref,
    }
    doc["claims"] = segmentation_claims(result_json, text)
    if doc["claims"]["alpha_split"].get("rule") != SEGMENTATION_ALPHA_SPLIT["rule"]:
        doc["spec_version"] = SEGMENTATION_BOUND_SPEC  # CERT.6: a bound method other than bonferroni
    doc["provenance"] = prov.to_json()
    write_with_sidecar(seal(doc), path, data)
    return path


#: the public names; those of the format itself (limits, Kind, digest, text forms) live in
#: :mod:`mmcert_verified.certificates.format` and are re-exported here, where callers have always found them
__all__ = [
    "DIGEST_ALGORITHM", "FORMAT", "GAP_DIGITS", "HEX64", "LIBNAME", "MAX_ALPHA_CHARS", "MAX_CERTIFICATE_BYTES",
    "MAX_CLASSES", "MAX_DEPTH", "MAX_ELEMENTS", "MAX_FLOAT_CHARS", "MAX_INT_DIGITS", "MAX_MODALITIES",
    "MAX_SIDECAR_BYTES", "MAX_STRING", "MAX_VOTES", "SCHEMA_VERSION", "SIDECAR_NAME", "SPEC_VERSIONS",
    "TIME_PATTERN", "CertificateFormatError", "Kind", "SidecarDigestError", "canonical_bytes", "compute_digest",
    "exact_text", "gap_text", "parse_alpha_text", "seal", "show_value",
    "Provenance", "SEGMENTATION_ALPHA_SPLIT", "SEGMENTATION_BOUND_SPEC", "bound_rule", "budget_direction", "certificate_header",
    "classification_certificate", "classification_claims", "classification_inputs", "library_versions",
    "radius_along_budget", "recorded_alpha", "refuse_existing", "segmentation_claims", "sidecar_path", "sidecar_votes",
    "utc_now", "write_certificate", "write_with_sidecar",
    "write_classification_certificate", "write_segmentation_certificate",
]
