"""Parsers for the comma lists and numbers the CLI takes; each error is one clear line."""

from __future__ import annotations

import argparse
import math
import re
from fractions import Fraction

from ..errors import InvalidParameterError
from ..threat_model import Method, parse_attacks

_INT = re.compile(r"^[+-]?\d+$")


def int_list(text: str, flag: str) -> tuple[int, ...]:
    """'108,79380' -> (108, 79380); rejects text, floats and negatives."""
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(s == "" for s in items):
        raise InvalidParameterError(f"{flag} needs a comma-separated list of integers, got {text!r}")
    out = []
    for s in items:
        if not _INT.match(s):
            raise InvalidParameterError(f"{flag}: {s!r} is not an integer")
        v = int(s)
        if v < 0:
            raise InvalidParameterError(f"{flag}: {v} is negative")
        out.append(v)
    return tuple(out)


def probability(text: str, flag: str, *, open_interval: bool = True) -> Fraction:
    """A decimal ('0.001', '1e-3') or fraction ('9/10') parsed exactly."""
    s = str(text).strip()
    try:
        value = Fraction(s)
    except (ValueError, ZeroDivisionError):
        try:
            f = float(s)
        except ValueError:
            raise InvalidParameterError(f"{flag}: {text!r} is not a number") from None
        if not math.isfinite(f):
            raise InvalidParameterError(f"{flag} must be a finite number, got {text!r}") from None
        value = Fraction(f)
    if open_interval and not 0 < value < 1:
        raise InvalidParameterError(f"{flag} must lie strictly between 0 and 1, got {text}")
    if not open_interval and not 0 <= value <= 1:
        raise InvalidParameterError(f"{flag} must lie in [0, 1], got {text}")
    return value


def add_classification_arguments(p: argparse.ArgumentParser) -> None:
    """The flags ``certify`` and ``radius`` share (issue #2 contract)."""
    p.add_argument("--counts", required=True, help="vote counts C1,...,CC (N is their sum)")
    p.add_argument("--alpha", required=True, help="overall confidence level alpha in (0, 1)")
    p.add_argument("--n", required=True, help="elements per modality n1,...,nT")
    p.add_argument("--k", required=True, help="kept per modality k1,...,kT (one pooled k for --method ablation)")
    p.add_argument("--attack", required=True, help="modify, add or delete, or one per modality")
    p.add_argument("--method", choices=[m.value for m in Method], default=Method.MMCERT.value)
    p.add_argument("--engine", choices=["reference", "fast"], default=None,
                   help="default: the best engine available (fast, which defers to reference near thresholds)")
    add_bound_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_bound_argument(p: argparse.ArgumentParser) -> None:
    """``--bound``: the confidence-bound method (spec CP.4-CP.7), fixed before the votes are seen (CP.5)."""
    from ..bounds.rules import BoundName

    p.add_argument("--bound", choices=[b.value for b in BoundName], default=BoundName.BONFERRONI.value,
                   help="how votes become p_A/p_B bounds: bonferroni (the paper's, alpha/C each), complement "
                        "(p_A at alpha/2, p_B = 1 - p_A), combined (union bound); default bonferroni")


def parse_classification(args) -> dict:
    """The shared flags of ``certify`` / ``radius``, parsed (each error one line, exit 2)."""
    counts = int_list(args.counts, "--counts")
    n = int_list(args.n, "--n")
    k = int_list(args.k, "--k")
    alpha = probability(args.alpha, "--alpha")
    attack = parse_attacks(args.attack, len(n))
    return dict(counts=counts, n=n, k=k, alpha=alpha, attack=attack, method=Method(args.method), bound=args.bound)


def resolve_engine(name: str | None) -> str:
    """The engine to use: the fast engine by default (it defers to the reference near thresholds)."""
    return "fast" if name is None else name
