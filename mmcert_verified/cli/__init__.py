"""The ``mmcert`` command line: argument parsing and printing only, no math.

Each verb lives in its own module with a ``register(subparsers)`` function.
Every error a user can cause ends as one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from ..errors import EngineDisagreementError, MMCertError

#: the verbs, each a module of this package exposing ``register`` (in help order)
VERBS = ["certify", "radius", "segment", "enumerate", "audit", "run", "demo", "fs", "report", "attack", "plan"]
#: verbs registered by another verb's module
REGISTERED_BY = {"merge": "run"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``mmcert`` parser with every verb, or only the verb ``only`` (what :func:`main` builds when the
    command line names a known verb: the other verbs' modules, and what they import, are not loaded)."""
    parser = _Parser(
        prog="mmcert",
        description="Certify multi-modal models against adversarial perturbation (MMCert).",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"mmcert-verified {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    sub.required = True
    for name in VERBS if only is None else [only]:  # one module per verb, named after it; a missing one is a packaging bug
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _verb_of(argv: list[str]) -> str | None:
    """The module of the verb a command line names (its first word not starting with '-': the top-level
    options take no value); None when that is no verb."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in VERBS else REGISTERED_BY.get(word)


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--r -1,1`` -> ``--r=-1,1``: argparse takes "-1,1" for an option and reports "expected one
    argument"; joined, the value reaches its own parser, which names the bad entry (exit 2)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if (tok.startswith("--") and "=" not in tok and i + 1 < len(argv)
                and re.match(r"^-[0-9.]", argv[i + 1])):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(_verb_of(argv))  # one verb's module only: its start-up cost alone (issue 16)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except MMCertError as exc:
        print(f"mmcert {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except EngineDisagreementError as exc:
        print(f"mmcert {args.verb}: internal error (please report this bug): {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"mmcert {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
