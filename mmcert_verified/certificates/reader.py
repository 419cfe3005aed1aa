"""Reading certificates defensively (spec clauses CERT.1, CERT.2): the audit's untrusted input.

:func:`read_certificate` parses JSON only, with limits on file size, nesting depth, integer digits,
string and list lengths; rejects NaN/Infinity and duplicate keys; and checks the structure field by
field against a hand-written mirror of ``docs/certificate.schema.json``.  :func:`read_sidecar` loads a
segmentation certificate's ``.npz`` with ``allow_pickle=False`` from bytes whose SHA-256 it has
checked, after checking the zip members' declared sizes.  Nothing read is ever executed or unpickled.
Writing certificates lives in :mod:`mmcert_verified.certificates.writer`; both sides build on
:mod:`mmcert_verified.certificates.format` (names, limits, versions, digest), and this module imports
nothing of the writer or the audit (data flow: result -> certificate -> audit).
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InvalidParameterError
from ..threat_model import Attack, Method

from .format import SPEC_VERSIONS, CertificateFormatError, DIGEST_ALGORITHM, FORMAT, Kind, MAX_ALPHA_CHARS
from .format import MAX_BUDGETS, MAX_CERTIFICATE_BYTES, MAX_CLASSES, MAX_DEPTH, MAX_ELEMENTS
from .format import MAX_FLOAT_CHARS, MAX_INT_DIGITS, MAX_MODALITIES, MAX_ROUNDS, MAX_SIDECAR_BYTES
from .format import MAX_STRING, MAX_VOTES, SCHEMA_VERSION, SidecarDigestError, HEX64, LIBNAME
from .format import SIDECAR_NAME, TIME_PATTERN, kinds_of_version, parse_alpha_text, show_value
from .format import spec_version_of


# --- reading under limits (clauses CERT.1, CERT.2) ------------------------------------------


def _reject_constant(name: str) -> Any:
    raise CertificateFormatError(f"the non-JSON number {name} is not allowed")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise CertificateFormatError(f"an integer of {len(text.lstrip('-'))} digits exceeds the limit of {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_FLOAT_CHARS:
        raise CertificateFormatError(f"a number of {len(text)} characters exceeds the limit of {MAX_FLOAT_CHARS}")
    value = float(text)
    if not math.isfinite(value):
        raise CertificateFormatError(f"the number {show_value(text)} is out of range")
    return value


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise CertificateFormatError(f"the key {show_value(key)} appears twice in one object")
        out[key] = value
    return out


def _check_shape(value: Any) -> None:
    """Depth, string and container limits over the parsed tree (iterative, no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CertificateFormatError(f"arrays/objects nest deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key, child in node.items():
                if len(key) > MAX_STRING:
                    raise CertificateFormatError(f"a key is longer than {MAX_STRING} characters")
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif isinstance(child, str) and len(child) > MAX_STRING:
                    raise CertificateFormatError(f"a string is longer than {MAX_STRING} characters")
        elif isinstance(node, list):
            for child in node:
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif isinstance(child, str) and len(child) > MAX_STRING:
                    raise CertificateFormatError(f"a string is longer than {MAX_STRING} characters")


def parse_certificate_bytes(data: bytes) -> dict:
    """Bytes -> JSON object, under the limits of this module; :class:`CertificateFormatError` otherwise."""
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateFormatError(f"the file is larger than {MAX_CERTIFICATE_BYTES} bytes")
    if not data.strip():
        raise CertificateFormatError("the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CertificateFormatError(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        doc = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
            object_pairs_hook=_pairs,
        )
    except RecursionError:
        raise CertificateFormatError(f"arrays/objects nest deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise CertificateFormatError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # e.g. int() digit limits
        raise CertificateFormatError(f"not acceptable JSON ({show_value(str(exc), 100)})") from None
    _check_shape(doc)
    if not isinstance(doc, dict):
        raise CertificateFormatError(f"not a certificate (JSON {type(doc).__name__}, not an object)")
    return doc


def read_bytes_limited(path: Path, limit: int, what: str) -> bytes:
    """Read a regular file of at most ``limit`` bytes; :class:`CertificateFormatError` otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CertificateFormatError(f"{what} does not exist") from None
    except OSError as exc:
        raise CertificateFormatError(f"{what} cannot be read ({exc.strerror or exc})") from None
    import stat as _stat

    if not _stat.S_ISREG(st.st_mode):
        raise CertificateFormatError(f"{what} is not a regular file")
    if st.st_size > limit:
        raise CertificateFormatError(f"{what} is larger than {limit} bytes ({st.st_size})")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise CertificateFormatError(f"{what} cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise CertificateFormatError(f"{what} is larger than {limit} bytes")
    return data


# --- structure (clause CERT.1): a strict, hand-written mirror of docs/certificate.schema.json ---


class _Where:
    """Path of the member being checked, for messages like ``inputs.counts[3]``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __truediv__(self, key: str | int) -> "_Where":
        if isinstance(key, int):
            return _Where(f"{self.path}[{key}]")
        return _Where(f"{self.path}.{key}" if self.path else key)

    def fail(self, message: str) -> CertificateFormatError:
        return CertificateFormatError(f"{self.path or 'the document'}: {message}")


def _obj(value: Any, where: _Where, required: set[str], optional: set[str] = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise where.fail(f"expected an object, got {show_value(value)}")
    missing = sorted(required - value.keys())
    if missing:
        raise where.fail(f"missing member {missing[0]!r}")
    extra = sorted(value.keys() - required - optional)
    if extra:
        raise where.fail(f"unknown member {show_value(extra[0])}")
    return value


def _int(value: Any, where: _Where, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.fail(f"expected an integer, got {show_value(value)}")
    if not lo <= value <= hi:
        raise where.fail(f"{show_value(value)} is outside [{lo}, {hi}]")
    return value


def _opt(check: Callable[..., Any]) -> Callable[..., Any]:
    def inner(value: Any, where: _Where, *args: Any) -> Any:
        return None if value is None else check(value, where, *args)

    return inner


def _str(value: Any, where: _Where, pattern: re.Pattern | None = None, limit: int = 128) -> str:
    if not isinstance(value, str):
        raise where.fail(f"expected a string, got {show_value(value)}")
    if len(value) > limit or (pattern is not None and not pattern.match(value)):
        raise where.fail(f"malformed string {show_value(value)}")
    return value


def _bool(value: Any, where: _Where) -> bool:
    if not isinstance(value, bool):
        raise where.fail(f"expected true or false, got {show_value(value)}")
    return value


def _list(value: Any, where: _Where, lo: int, hi: int, item: Callable[[Any, _Where], Any]) -> list:
    if not isinstance(value, list):
        raise where.fail(f"expected an array, got {show_value(value)}")
    if not lo <= len(value) <= hi:
        raise where.fail(f"expected {lo} to {hi} entries, got {len(value)}")
    return [item(v, where / i) for i, v in enumerate(value)]


def _int_list(value: Any, where: _Where, lo_len: int, hi_len: int, lo: int, hi: int) -> list[int]:
    """An array of integers in [lo, hi] (the hot path of validation: no per-item allocations)."""
    if not isinstance(value, list):
        raise where.fail(f"expected an array, got {show_value(value)}")
    if not lo_len <= len(value) <= hi_len:
        raise where.fail(f"expected {lo_len} to {hi_len} entries, got {len(value)}")
    for i, v in enumerate(value):
        if type(v) is not int or not lo <= v <= hi:
            _int(v, where / i, lo, hi)  # raises with the precise message
    return value


def _enum(value: Any, where: _Where, enum_type: type[enum.Enum]) -> Any:
    allowed = [m.value for m in enum_type]
    if not isinstance(value, str) or value not in allowed:
        raise where.fail(f"expected one of {allowed}, got {show_value(value)}")
    return enum_type(value)


_DECIMAL = re.compile(r"^(?:0|1|0\.\d*[1-9])$")
_GAP = re.compile(r"^(?:0|-?\d\.\d{16}e[+-]\d{1,12})$")
_FRACTION_TEXT = re.compile(r"^(?:\d+(?:\.\d+)?|\d+/\d+)$")


@dataclass(frozen=True)
class ThreatInputs:
    """The threat-model inputs common to both kinds (validated, typed)."""

    method: Method
    n: tuple[int, ...]
    k: tuple[int, ...]
    r: tuple[int, ...]
    attack: tuple[Attack, ...]
    alpha_text: str
    alpha: Fraction


@dataclass(frozen=True)
class ClassificationInputs:
    """``inputs`` of a classification certificate (clause CERT.1)."""

    threat: ThreatInputs
    counts: tuple[int, ...]
    radius_ratio: tuple[int, ...] | None


@dataclass(frozen=True)
class SidecarRef:
    """``inputs.votes`` of a segmentation certificate (clause CERT.2)."""

    file: str
    sha256: str
    size: int
    counts_shape: tuple[int, ...]
    labels: bool


@dataclass(frozen=True)
class SegmentationInputs:
    """``inputs`` of a segmentation certificate (clause CERT.1)."""

    threat: ThreatInputs
    segmented_attack: Attack | None
    r_o: int
    segmented_modality: int
    votes: SidecarRef


@dataclass(frozen=True)
class LoadedCertificate:
    """A certificate that passed the structural checks: the raw dict and its typed inputs."""

    kind: Kind
    doc: dict
    inputs: Any  # ClassificationInputs | SegmentationInputs | ...PerInputInputs | SequentialInputs | FSInputs


def _threat(inp: dict, where: _Where) -> ThreatInputs:
    method = _enum(inp["method"], where / "method", Method)
    n = _int_list(inp["n"], where / "n", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
    k = _int_list(inp["k"], where / "k", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
    r = _int_list(inp["r"], where / "r", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
    attack = _list(inp["attack"], where / "attack", 1, MAX_MODALITIES, lambda v, w: _enum(v, w, Attack))
    alpha_text = _str(inp["alpha"], where / "alpha", limit=MAX_ALPHA_CHARS)
    try:
        alpha = parse_alpha_text(alpha_text)
    except InvalidParameterError as exc:
        raise (where / "alpha").fail(str(exc)) from None
    return ThreatInputs(method, tuple(n), tuple(k), tuple(r), tuple(attack), alpha_text, alpha)


_THREAT_KEYS = {"method", "n", "k", "r", "attack", "alpha"}


def _classification(doc: dict) -> ClassificationInputs:
    where = _Where("inputs")
    inp = _obj(doc["inputs"], where, _THREAT_KEYS | {"counts", "radius_ratio"})
    threat = _threat(inp, where)
    counts = _int_list(inp["counts"], where / "counts", 1, MAX_CLASSES, 0, MAX_VOTES)
    ratio = _opt(_int_list)(inp["radius_ratio"], where / "radius_ratio", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
    # claims: structure only here; values are the audit's business
    cw = _Where("claims")
    claims = _obj(
        doc["claims"], cw,
        {"N", "C", "alpha_split", "label", "runner_up", "p_a_lower", "p_b_upper", "certified",
         "theorem1_gap", "largest_certified"},
    )
    _int(claims["N"], cw / "N", 0, MAX_VOTES * MAX_CLASSES)
    _bound_claims(claims, cw)
    _bool(claims["certified"], cw / "certified")
    _str(claims["theorem1_gap"], cw / "theorem1_gap", _GAP, limit=64)
    largest = claims["largest_certified"]
    if largest is not None:
        _largest(largest, cw / "largest_certified", set())
    return ClassificationInputs(threat, tuple(counts), None if ratio is None else tuple(ratio))


#: the claims every classification-like kind shares: the bound pair and how alpha was split (CP.4-CP.7)
_BOUND_CLAIM_KEYS = {"C", "alpha_split", "label", "runner_up", "p_a_lower", "p_b_upper"}


def _bound_claims(claims: dict, cw: _Where) -> None:
    _int(claims["C"], cw / "C", 0, MAX_CLASSES)
    split = _obj(claims["alpha_split"], cw / "alpha_split", {"rule", "parts", "level"}, {"level_b"})
    _str(split["rule"], cw / "alpha_split" / "rule", re.compile(r"^[a-z-]{1,32}$"))
    _int(split["parts"], cw / "alpha_split" / "parts", 0, MAX_CLASSES)
    _str(split["level"], cw / "alpha_split" / "level", _FRACTION_TEXT, limit=MAX_STRING)
    if "level_b" in split:
        _str(split["level_b"], cw / "alpha_split" / "level_b", _FRACTION_TEXT, limit=MAX_STRING)
    _int(claims["label"], cw / "label", 0, MAX_CLASSES)
    _opt(_int)(claims["runner_up"], cw / "runner_up", 0, MAX_CLASSES)
    _str(claims["p_a_lower"], cw / "p_a_lower", _DECIMAL, limit=MAX_STRING)
    _str(claims["p_b_upper"], cw / "p_b_upper", _DECIMAL, limit=MAX_STRING)


def _largest(value: Any, lw: _Where, extra: set[str]) -> dict:
    """A radius claim ``{t, r, search_limit}`` (clause R1), with ``extra`` members checked by the caller."""
    largest = _obj(value, lw, {"t", "r", "search_limit"} | extra)
    _opt(_int)(largest["t"], lw / "t", 0, MAX_ELEMENTS)
    _opt(_int_list)(largest["r"], lw / "r", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
    _opt(_int)(largest["search_limit"], lw / "search_limit", 0, MAX_ELEMENTS)
    return largest


def _segmentation(doc: dict) -> SegmentationInputs:
    where = _Where("inputs")
    inp = _obj(doc["inputs"], where, _THREAT_KEYS | {"segmented_attack", "r_o", "segmented_modality", "votes"})
    threat = _threat(inp, where)
    seg_att = _opt(_enum)(inp["segmented_attack"], where / "segmented_attack", Attack)
    r_o = _int(inp["r_o"], where / "r_o", 0, MAX_ELEMENTS)
    modality = _int(inp["segmented_modality"], where / "segmented_modality", 0, MAX_MODALITIES - 1)
    ref = _sidecar_ref(inp["votes"], where / "votes")
    if not isinstance(doc["claims"], dict):
        raise _Where("claims").fail(f"expected an object, got {show_value(doc['claims'])}")
    split = doc["claims"].get("alpha_split")
    if doc.get("spec_version") == "1.0" and isinstance(split, dict) and split.get("rule", "holm") != "holm":
        raise _Where("claims.alpha_split.rule").fail(  # clause CERT.6: bound methods in segmentation are spec 1.1
            f"a bound method ({show_value(split.get('rule'))}) in a segmentation certificate needs spec 1.1")
    return SegmentationInputs(threat, seg_att, r_o, modality, ref)


# --- the kinds of spec 1.1: per-input (CERT.4) and sequential (CERT.5) ------------------------


@dataclass(frozen=True)
class BudgetListInputs:
    """The inputs a per-input or sequential certificate shares: threat model, alpha, N, the budgets."""

    method: Method
    n: tuple[int, ...]
    k: tuple[int, ...]
    attack: tuple[Attack, ...]
    alpha_text: str
    alpha: Fraction
    #: N, the samples drawn (clause CERT.4: the votes must sum to it)
    samples: int
    budgets: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ClassificationPerInputInputs:
    """``inputs`` of a classification per-input certificate (clause CERT.4)."""

    common: BudgetListInputs
    counts: tuple[int, ...]
    ratios: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class SegmentationPerInputInputs:
    """``inputs`` of a segmentation per-input certificate (clause CERT.4)."""

    common: BudgetListInputs
    segmented_modality: int
    votes: SidecarRef


@dataclass(frozen=True)
class SequentialInputs:
    """``inputs`` of a sequential certificate (clause CERT.5)."""

    common: BudgetListInputs
    counts: tuple[int, ...]
    schedule: tuple[int, ...]
    round: int


_LIST_KEYS = {"method", "n", "k", "attack", "alpha", "N", "budgets"}


def _budget_list(inp: dict, where: _Where) -> BudgetListInputs:
    method = _enum(inp["method"], where / "method", Method)
    n = _int_list(inp["n"], where / "n", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
    k = _int_list(inp["k"], where / "k", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
    attack = _list(inp["attack"], where / "attack", 1, MAX_MODALITIES, lambda v, w: _enum(v, w, Attack))
    alpha_text = _str(inp["alpha"], where / "alpha", limit=MAX_ALPHA_CHARS)
    try:
        alpha = parse_alpha_text(alpha_text)
    except InvalidParameterError as exc:
        raise (where / "alpha").fail(str(exc)) from None
    samples = _int(inp["N"], where / "N", 1, MAX_VOTES)
    budgets = _list(inp["budgets"], where / "budgets", 1, MAX_BUDGETS,
                    lambda v, w: tuple(_int_list(v, w, 1, MAX_MODALITIES, 0, MAX_ELEMENTS)))
    return BudgetListInputs(method, tuple(n), tuple(k), tuple(attack), alpha_text, alpha, samples, tuple(budgets))


def _verdict_rows(value: Any, where: _Where, extra: set[str]) -> None:
    """claims.budgets of the classification-like kinds: ``{r, certified, theorem1_gap}`` (+ ``extra``)."""
    def row(v: Any, w: _Where) -> None:
        item = _obj(v, w, {"r", "certified", "theorem1_gap"} | extra)
        _int_list(item["r"], w / "r", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)
        _bool(item["certified"], w / "certified")
        _str(item["theorem1_gap"], w / "theorem1_gap", _GAP, limit=64)
        if "status" in extra:
            _str(item["status"], w / "status", re.compile(r"^[a-z]{1,16}$"))

    _list(value, where, 1, MAX_BUDGETS, row)


def _classification_per_input(doc: dict) -> ClassificationPerInputInputs:
    where = _Where("inputs")
    inp = _obj(doc["inputs"], where, _LIST_KEYS | {"counts", "ratios"})
    common = _budget_list(inp, where)
    counts = _int_list(inp["counts"], where / "counts", 1, MAX_CLASSES, 0, MAX_VOTES)
    ratios = _list(inp["ratios"], where / "ratios", 0, MAX_BUDGETS,
                   lambda v, w: tuple(_int_list(v, w, 1, MAX_MODALITIES, 0, MAX_ELEMENTS)))
    cw = _Where("claims")
    claims = _obj(doc["claims"], cw, _BOUND_CLAIM_KEYS | {"budgets", "radii"})
    _bound_claims(claims, cw)
    _verdict_rows(claims["budgets"], cw / "budgets", set())

    def radius_row(v: Any, w: _Where) -> None:
        _int_list(_largest(v, w, {"ratio"})["ratio"], w / "ratio", 1, MAX_MODALITIES, 0, MAX_ELEMENTS)

    _list(claims["radii"], cw / "radii", 0, MAX_BUDGETS, radius_row)
    return ClassificationPerInputInputs(common, tuple(counts), tuple(ratios))


def _sidecar_ref(value: Any, vw: _Where) -> SidecarRef:
    votes = _obj(value, vw, {"file", "sha256", "bytes", "counts_shape", "labels"})
    return SidecarRef(
        _str(votes["file"], vw / "file", SIDECAR_NAME, limit=205),
        _str(votes["sha256"], vw / "sha256", HEX64),
        _int(votes["bytes"], vw / "bytes", 0, MAX_SIDECAR_BYTES),
        tuple(_int_list(votes["counts_shape"], vw / "counts_shape", 2, 4, 1, MAX_SIDECAR_BYTES)),
        _bool(votes["labels"], vw / "labels"),
    )


def _segmentation_per_input(doc: dict) -> SegmentationPerInputInputs:
    where = _Where("inputs")
    inp = _obj(doc["inputs"], where, _LIST_KEYS | {"segmented_modality", "votes"})
    common = _budget_list(inp, where)
    modality = _int(inp["segmented_modality"], where / "segmented_modality", 0, MAX_MODALITIES - 1)
    ref = _sidecar_ref(inp["votes"], where / "votes")
    cw = _Where("claims")
    claims = _obj(doc["claims"], cw, {"budgets"})

    def per_budget(v: Any, w: _Where) -> None:
        if not isinstance(v, dict):
            raise w.fail(f"expected an object, got {show_value(v)}")

    _list(claims["budgets"], cw / "budgets", 1, MAX_BUDGETS, per_budget)
    return SegmentationPerInputInputs(common, modality, ref)


def _sequential(doc: dict) -> SequentialInputs:
    where = _Where("inputs")
    inp = _obj(doc["inputs"], where, _LIST_KEYS | {"counts", "schedule", "round"})
    common = _budget_list(inp, where)
    counts = _int_list(inp["counts"], where / "counts", 1, MAX_CLASSES, 0, MAX_VOTES)
    schedule = _int_list(inp["schedule"], where / "schedule", 1, MAX_ROUNDS, 1, MAX_VOTES)
    round_ = _int(inp["round"], where / "round", 1, MAX_ROUNDS)
    cw = _Where("claims")
    claims = _obj(doc["claims"], cw, _BOUND_CLAIM_KEYS | {"round_level", "budgets"})
    _bound_claims(claims, cw)
    _str(claims["round_level"], cw / "round_level", _FRACTION_TEXT, limit=MAX_STRING)
    _verdict_rows(claims["budgets"], cw / "budgets", {"status"})
    return SequentialInputs(common, tuple(counts), tuple(schedule), round_)


#: the structure check of each kind's ``inputs`` and ``claims`` (feature smoothing: its own module)
_SECTIONS: dict[Kind, Callable[[dict], Any]] = {
    Kind.CLASSIFICATION: _classification,
    Kind.SEGMENTATION: _segmentation,
    Kind.CLASSIFICATION_PER_INPUT: _classification_per_input,
    Kind.SEGMENTATION_PER_INPUT: _segmentation_per_input,
    Kind.CLASSIFICATION_SEQUENTIAL: _sequential,
}


def _provenance(value: Any) -> None:
    where = _Where("provenance")
    prov = _obj(
        value, where,
        {"tool", "tool_version", "libraries", "engine", "seed", "rng", "model_sha256", "input_sha256", "created"},
    )
    _str(prov["tool"], where / "tool")
    _str(prov["tool_version"], where / "tool_version", limit=64)
    libs = prov["libraries"]
    if not isinstance(libs, dict):
        raise (where / "libraries").fail(f"expected an object, got {show_value(libs)}")
    if len(libs) > 64:
        raise (where / "libraries").fail("more than 64 entries")
    for name, version in libs.items():
        if not LIBNAME.match(name):
            raise (where / "libraries").fail(f"malformed library name {show_value(name)}")
        _str(version, where / "libraries" / name, limit=64)
    _opt(_str)(prov["engine"], where / "engine")
    _opt(_int)(prov["seed"], where / "seed", 0, 2**256 - 1)
    _opt(_str)(prov["rng"], where / "rng")
    _opt(_str)(prov["model_sha256"], where / "model_sha256", HEX64)
    _opt(_str)(prov["input_sha256"], where / "input_sha256", HEX64)
    _str(prov["created"], where / "created", TIME_PATTERN, limit=40)


def validate_certificate(doc: Any) -> LoadedCertificate:
    """Clause CERT.1: check the structure of a parsed certificate; typed inputs on success.

    Checks types, required and unknown members, ranges and string forms --
    not whether the claims are true (that is :mod:`mmcert_verified.certificates.audit`).
    Raises :class:`CertificateFormatError` naming the first offending member.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CertificateFormatError(f'not an mmcert certificate (no "format": "{FORMAT}")')
    top = _Where("")
    _obj(doc, top, {"format", "schema_version", "kind", "spec_version", "inputs", "claims", "provenance", "digest"})
    version = doc["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
        raise CertificateFormatError(
            f"schema_version {show_value(version)} is not supported; this tool reads schema_version {SCHEMA_VERSION}"
        )
    spec = _str(doc["spec_version"], _Where("spec_version"), limit=32)
    if spec not in SPEC_VERSIONS:
        raise CertificateFormatError(
            f"the certificate follows spec {show_value(spec)}; this tool reads spec {', '.join(SPEC_VERSIONS)}"
        )
    kind = _enum(doc["kind"], _Where("kind"), Kind)
    if kind not in kinds_of_version(spec):  # clause CERT.7: a kind exists from the version that adds it
        raise _Where("kind").fail(f"kind {kind.value!r} is not defined by spec {spec} (it needs spec "
                                  f"{spec_version_of(kind)})")
    digest = _obj(doc["digest"], _Where("digest"), {"algorithm", "value"})
    if digest["algorithm"] != DIGEST_ALGORITHM:
        raise _Where("digest.algorithm").fail(f"expected {DIGEST_ALGORITHM!r}, got {show_value(digest['algorithm'])}")
    _str(digest["value"], _Where("digest.value"), HEX64)
    if kind is Kind.FEATURE_SMOOTHING:  # clause FS.10: its own module checks its sections
        from ..feature_smoothing.certificate_format import validate_sections

        inputs = validate_sections(doc)
    else:
        inputs = _SECTIONS[kind](doc)
    _provenance(doc["provenance"])
    return LoadedCertificate(kind, doc, inputs)


def read_certificate(path) -> LoadedCertificate:
    """Read, parse and structurally validate the certificate at ``path`` (clause CERT.1).

    Raises :class:`CertificateFormatError` (an :class:`InputFileError`) with a
    one-line reason when the file is unreadable, over a limit, not JSON or not
    a certificate.
    """
    path = Path(path)
    data = read_bytes_limited(path, MAX_CERTIFICATE_BYTES, "the file")
    return validate_certificate(parse_certificate_bytes(data))


# --- sidecar (clause CERT.2) ----------------------------------------------------------------


@dataclass(frozen=True)
class SidecarArrays:
    """The arrays of a segmentation certificate's sidecar."""

    counts: np.ndarray
    labels: np.ndarray | None


def read_sidecar(certificate_path, ref: SidecarRef) -> SidecarArrays:
    """Clause CERT.2: load the sidecar named by ``ref`` after checking its size and SHA-256.

    The file is read once into memory, hashed, and parsed from those bytes
    with ``allow_pickle=False``.  Members must be exactly ``counts.npy`` (and
    ``labels.npy`` when ``ref.labels``), integer arrays whose declared sizes
    fit the limit.  Raises :class:`SidecarDigestError` when the bytes do not
    match the recorded digest or size, :class:`CertificateFormatError` when the
    file is missing, over a limit or malformed.
    """
    path = Path(certificate_path).parent / ref.file
    data = read_bytes_limited(path, MAX_SIDECAR_BYTES, f"the votes file {ref.file}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != ref.sha256 or len(data) != ref.size:
        raise SidecarDigestError(
            f"votes file {ref.file} has SHA-256 {actual[:16]}... ({len(data)} bytes), "
            f"the certificate records {ref.sha256[:16]}... ({ref.size} bytes)"
        )
    want = {"counts.npy"} | ({"labels.npy"} if ref.labels else set())
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if names != want or len(infos) != len(want):
                raise CertificateFormatError(
                    f"votes file {ref.file} holds {sorted(names)[:4]}, expected {sorted(want)}"
                )
            if sum(i.file_size for i in infos) > MAX_SIDECAR_BYTES:
                raise CertificateFormatError(f"votes file {ref.file} expands beyond {MAX_SIDECAR_BYTES} bytes")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            counts = npz["counts"]
            labels = npz["labels"] if ref.labels else None
    except CertificateFormatError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, NotImplementedError, RuntimeError) as exc:
        raise CertificateFormatError(f"votes file {ref.file} is not a readable .npz ({show_value(str(exc), 80)})") from None
    for name, arr in (("counts", counts), ("labels", labels)):
        if arr is None:
            continue
        if arr.dtype.kind not in "iu":
            raise CertificateFormatError(f"votes file {ref.file}: {name} has dtype {arr.dtype}, not integer")
    if counts.size and int(counts.max()) > MAX_VOTES:
        raise CertificateFormatError(f"votes file {ref.file}: a count exceeds {MAX_VOTES}")
    if tuple(counts.shape) != ref.counts_shape:
        raise CertificateFormatError(
            f"votes file {ref.file}: counts have shape {tuple(counts.shape)}, the certificate says {ref.counts_shape}"
        )
    return SidecarArrays(counts, labels)
