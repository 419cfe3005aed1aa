"""The run file: a header line, then one self-checking JSON line per input (clauses RUN.3, RUN.4).

Format ``mmcert-run/2``:

* line 1, the header: ``format``, ``config`` (as written), ``identity`` and
  ``identity_sha256`` (what the results depend on, :mod:`.identity`),
  ``inputs``, ``shard``, ``certificates`` (whether ``--certificates`` was on)
  and its own ``line_sha256``; written atomically, so it is complete or absent;
* then one line per input, each with ``line_sha256``: SHA-256 of the
  identity digest, a newline and the line's canonical JSON without
  ``line_sha256``.  An edited, truncated or transplanted line fails it.

Reading is defensive: a byte that is not UTF-8, a line that is not a JSON
object, a record with a wrong digest or missing fields is one
:class:`InputFileError` naming the line, never a traceback.  A last line
without its newline (an interrupted append) is reported as a partial tail.
Files of the older format ``mmcert-run/1`` (no digests) can be read for
reports (``legacy``) but not resumed or merged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputFileError

#: the header's format tag; a file without it was not written by ``mmcert run``
FORMAT = "mmcert-run/2"
#: the format written before records carried digests (read for reports only)
LEGACY_FORMAT = "mmcert-run/1"
DIGEST_KEY = "line_sha256"


def dumps(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)


def line_digest(identity_sha256: str, record: dict) -> str:
    """Clause RUN.4: SHA-256 binding a record to its run (the identity digest)."""
    body = {k: v for k, v in record.items() if k != DIGEST_KEY}
    return hashlib.sha256(f"{identity_sha256}\n{dumps(body)}".encode()).hexdigest()


def seal_record(identity_sha256: str, record: dict) -> dict:
    return {**record, DIGEST_KEY: line_digest(identity_sha256, record)}


@dataclass(frozen=True)
class RunFile:
    """A run output read back: header, complete input lines by index, and where they end."""

    header: dict
    lines: dict[int, str]
    complete_bytes: int
    partial_tail: bool

    @property
    def legacy(self) -> bool:
        return self.header.get("format") == LEGACY_FORMAT

    def records(self) -> list[dict]:
        """The records sorted by index (already validated when the file was read)."""
        return [json.loads(self.lines[i]) for i in sorted(self.lines)]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_header(header, where: str) -> dict:
    if not isinstance(header, dict) or header.get("format") not in (FORMAT, LEGACY_FORMAT):
        raise InputFileError(f"{where} is not an mmcert run file (no {FORMAT} header); refusing to touch it")
    config = header.get("config")
    ok = (
        isinstance(config, dict) and isinstance(config.get("budgets"), list) and config.get("task") in
        ("classification", "segmentation") and _is_int(header.get("inputs")) and header["inputs"] >= 0
        and isinstance(header.get("shard"), list) and len(header["shard"]) == 2
        and all(_is_int(x) for x in header["shard"])
    )
    if header["format"] == FORMAT:
        from .identity import identity_digest

        ok = ok and isinstance(header.get("identity"), dict) and isinstance(header.get("identity_sha256"), str)
        if ok and (identity_digest(header["identity"]) != header["identity_sha256"]
                   or header.get(DIGEST_KEY) != line_digest(header["identity_sha256"], header)):
            raise InputFileError(f"{where}:1: the header does not match its digest (edited?)")
    if not ok:
        raise InputFileError(f"{where}:1: the header is incomplete or malformed (edited?)")
    return header


def _check_record(rec: dict, header: dict, where: str) -> int:
    """Clause RUN.4: the record's digest (format 2) and the fields the summaries read."""
    if header["format"] == FORMAT:
        if rec.get(DIGEST_KEY) != line_digest(header["identity_sha256"], rec):
            raise InputFileError(f"{where}: the result line does not match its digest (edited, or from another run)")
    index = rec.get("index")
    if not _is_int(index) or not 0 <= index < header["inputs"]:
        raise InputFileError(f"{where}: not a result line (no valid 'index')")
    nb = len(header["config"]["budgets"])
    if header["config"]["task"] == "classification":
        fields_ok = (
            isinstance(rec.get("certified"), list) and len(rec["certified"]) == nb
            and all(isinstance(x, bool) for x in rec["certified"])
            and _is_int(rec.get("prediction")) and (rec.get("label") is None or _is_int(rec.get("label")))
            and isinstance(rec.get("counts"), list)
        )
    else:
        fields_ok = _is_int(rec.get("pixels")) and all(
            isinstance(rec.get(k), list) and len(rec[k]) == nb
            for k in ("certified_pixels", "abstained_pixels", "pixel_accuracy", "f_score", "iou")
        )
    if not fields_ok:
        raise InputFileError(f"{where}: incomplete result record for input {index}")
    return index


def read_run_file(path: str | Path) -> RunFile:
    """Parse and check a run file (see the module docstring); errors name the line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    end = data.rfind(b"\n") + 1  # bytes up to the last complete line
    partial = end < len(data)
    rows = data[:end].split(b"\n")[:-1] if end else []
    if not rows:
        raise InputFileError(f"{path} has no complete header line: not an mmcert run file")

    def parse(number: int, raw: bytes):
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{path}:{number}: byte {exc.start} is not UTF-8 (corrupted file?)") from None
        except json.JSONDecodeError:
            return None

    try:
        header = parse(1, rows[0])
    except InputFileError:
        header = None
    header = _check_header(header, str(path))
    lines: dict[int, str] = {}
    for number, raw in enumerate(rows[1:], 2):
        rec = parse(number, raw)
        if not isinstance(rec, dict):
            raise InputFileError(f"{path}:{number}: not a result line (not a JSON object)")
        index = _check_record(rec, header, f"{path}:{number}")
        if index in lines:
            raise InputFileError(f"{path}:{number}: input {index} appears twice")
        lines[index] = raw.decode("utf-8")
    return RunFile(header, lines, end, partial)


def run_header(config_json: dict, identity: dict, identity_sha256: str, total: int, shard,
               certificates: bool = False) -> dict:
    """The header line's content, sealed like a result line (its ``line_sha256`` covers every field)."""
    return seal_record(identity_sha256, {
        "format": FORMAT,
        "config": config_json,
        "identity": identity,
        "identity_sha256": identity_sha256,
        "inputs": total,
        "shard": [shard.index, shard.count],
        "certificates": bool(certificates),
    })


__all__ = ["DIGEST_KEY", "FORMAT", "LEGACY_FORMAT", "RunFile", "dumps", "line_digest", "read_run_file",
           "run_header", "seal_record"]
