"""``mmcert audit FILE...``: re-derive and check certificates (spec clause CERT.3).

Exit status: 0 when every certificate holds, 1 when a claim does not hold or
a digest does not match, 2 when a file is unreadable or not a certificate
(the largest over all files).  One line per file; ``--json`` prints one JSON
object instead.  Nothing a file holds can make it print a traceback.
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "audit",
        help="re-derive every claim of certificates (exit 0: all hold, 1: a claim fails, 2: unreadable)",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="certificate files written by --out")
    p.add_argument("--json", action="store_true", help="print one JSON object with a report per file")
    p.set_defaults(handler=run_audit)


def printable(text: str) -> str:
    """One printable line: undecodable bytes and control characters escaped."""
    raw = text.encode("utf-8", "surrogateescape")
    out = raw.decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in out)


def line(report) -> str:
    """The one-line text form of an :class:`~mmcert_verified.certificates.audit.AuditReport`."""
    from ..certificates.audit import Verdict

    head = f"{printable(report.path)}: {report.status.value.upper()}"
    if report.status is Verdict.HOLDS:
        return f"{head} -- {printable(report.summary or '')}"
    return f"{head} -- {printable('; '.join(report.reasons))}"


def run_audit(args) -> int:
    from ..certificates.audit import Verdict, audit_files, exit_code  # loaded when the verb runs, not at start-up

    reports = audit_files(args.files)
    code = exit_code(reports)
    if args.json:
        doc = {
            "exit_code": code,
            "holds": sum(r.status is Verdict.HOLDS for r in reports),
            "fails": sum(r.status is Verdict.FAILS for r in reports),
            "invalid": sum(r.status is Verdict.INVALID for r in reports),
            "files": [r.to_json() for r in reports],
        }
        print(json.dumps(doc, ensure_ascii=True))
    else:
        print("\n".join(line(r) for r in reports))
    return code
