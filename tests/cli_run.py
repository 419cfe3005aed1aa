"""The CLI run in-process for the CLI tests: ``mmcert ARGV`` with pytest's ``capsys`` capturing its output.

``tests/`` is on ``sys.path`` (its conftest.py's directory), so any test imports this as ``cli_run``.
"""

from __future__ import annotations

import json

from mmcert_verified.cli import main


def run(argv, capsys) -> tuple[int, str, str]:
    """Run ``mmcert ARGV`` in-process; (exit code, stdout, stderr).  A SystemExit (argparse usage errors)
    counts as its code; the output is what ``capsys`` captured since its last read."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run_json(argv, capsys) -> tuple[dict, str]:
    """:func:`run`, asserting exit code 0; (stdout parsed as JSON, stdout as printed)."""
    code, out, err = run(argv, capsys)
    assert code == 0, err
    return json.loads(out), out
