"""``mmcert certify`` and ``mmcert radius``: classification certificates (issue #2 contract)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import EngineDisagreementError, InputFileError, InvalidParameterError
from ..reference.certify import certify as ref_certify
from ..reference.certify import radius as ref_radius
from ..reference.clopper_pearson import decimal_floor, decimal_string
from ..threat_model import Method, parse_attacks
from .arguments import int_list, probability


def _engine_choices() -> list[str]:
    return ["reference", "fast"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counts", required=True, help="vote counts C1,...,CC (N is their sum)")
    p.add_argument("--alpha", required=True, help="overall confidence level alpha in (0, 1)")
    p.add_argument("--n", required=True, help="elements per modality n1,...,nT")
    p.add_argument("--k", required=True, help="kept per modality k1,...,kT (one pooled k for --method ablation)")
    p.add_argument("--attack", required=True, help="modify, add or delete, or one per modality")
    p.add_argument("--method", choices=[m.value for m in Method], default=Method.MMCERT.value)
    p.add_argument("--engine", choices=_engine_choices(), default=None,
                   help="default: the best engine available (fast, which defers to reference near thresholds)")
    add_bound_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_bound_argument(p: argparse.ArgumentParser) -> None:
    """``--bound``: the confidence-bound method (spec CP.4-CP.7), fixed before the votes are seen (CP.5)."""
    from ..bounds.rules import BoundName

    p.add_argument("--bound", choices=[b.value for b in BoundName], default=BoundName.BONFERRONI.value,
                   help="how votes become p_A/p_B bounds: bonferroni (the paper's, alpha/C each), complement "
                        "(p_A at alpha/2, p_B = 1 - p_A), combined (union bound); default bonferroni")


def register(sub) -> None:
    p = sub.add_parser("certify", help="certify one prediction against a budget r")
    _common(p)
    p.add_argument("--r", required=True, help="budget per modality r1,...,rT")
    p.add_argument("--out", help="also write a certificate (JSON) to FILE; never overwrites")
    p.set_defaults(handler=run_certify)

    p = sub.add_parser("radius", help="largest t certified against r = t*(c1,...,cT)")
    _common(p)
    p.add_argument("--ratio", required=True, help="budget direction c1,...,cT")
    p.set_defaults(handler=run_radius)


def _parse(args) -> dict:
    counts = int_list(args.counts, "--counts")
    n = int_list(args.n, "--n")
    k = int_list(args.k, "--k")
    alpha = probability(args.alpha, "--alpha")
    attack = parse_attacks(args.attack, len(n))
    return dict(counts=counts, n=n, k=k, alpha=alpha, attack=attack, method=Method(args.method), bound=args.bound)


def resolve_engine(name: str | None) -> str:
    """The engine to use: the fast engine by default (it defers to the reference near thresholds)."""
    return "fast" if name is None else name


def run_certify(args) -> int:
    p = _parse(args)
    r = int_list(args.r, "--r")
    if len(r) != len(p["n"]):
        raise InvalidParameterError(f"--r has {len(r)} entries but --n has {len(p['n'])}")
    engine = resolve_engine(args.engine)
    if args.out and Path(args.out).exists():
        raise InputFileError(f"--out {args.out} already exists; refusing to overwrite it")
    # one exact result per call: its bounds and gap are printed, and stdout and --out both carry it
    result = ref_certify(p["counts"], p["alpha"], p["n"], p["k"], r, p["attack"], p["method"], p["bound"])
    certified = result.certified
    from ..fast.single import fits_int64

    if engine == "fast" and p["bound"] != "bonferroni" and not fits_int64(p["counts"]):
        fast = certified  # beyond int64 the fast engine hands the input to the reference whole (F.4)
    elif engine == "fast" and p["bound"] != "bonferroni":  # the batched engine carries every bound method
        from ..fast.classify import certify_batch

        fast = bool(certify_batch([list(p["counts"])], p["alpha"], p["n"], p["k"], [list(r)], p["attack"],
                                  p["method"], reference=lambda b, j: result.certified,
                                  bound=p["bound"]).certified[0, 0])
    elif engine == "fast":
        from ..fast.single import certify_decision

        fast = certify_decision(p["counts"], p["alpha"], p["n"], p["k"], r, p["attack"], p["method"],
                                reference=lambda: result.certified)
    if engine == "fast":
        if fast != certified:  # spec F.1: cannot happen; refuse to answer rather than print two answers
            raise EngineDisagreementError(
                f"the fast engine decided {fast} where the exact reference decides {certified}"
            )
    doc = certify_json(result, args.alpha, engine, certified)
    if args.out:
        from ..certificate import write_classification_certificate

        write_classification_certificate(result, args.out, alpha_text=args.alpha)
    if args.json:
        print(json.dumps(doc))
    else:
        verdict = "CERTIFIED" if certified else "NOT certified"
        if doc["bound"] == "bonferroni":
            split = f"each bound at alpha/C = {doc['level']}"
        else:
            split = f"bound {doc['bound']}: p_A at {doc['level']}"
        print(
            f"label {doc['label']} ({doc['method']}): {verdict} against r = {list(r)} "
            f"({', '.join(a.value for a in result.budget.attack)})\n"
            f"  p_A lower = {doc['p_a_lower']}\n  p_B upper = {doc['p_b_upper']}\n"
            f"  alpha = {args.alpha} ({split})"
        )
    return 0


def certify_json(result, alpha_text: str, engine: str, certified: bool) -> dict:
    b = result.bounds
    return {
        "method": result.method.value,
        "engine": engine,
        "label": b.label,
        "runner_up": b.runner_up,
        "counts": list(result.votes.counts),
        "N": result.votes.total,
        "C": result.votes.classes,
        "alpha": str(alpha_text),
        "level": decimal_string(b.level),
        "bound": b.rule,
        "n": list(result.setting.n),
        "k": list(result.setting.k),
        "r": list(result.budget.r),
        "attack": [a.value for a in result.budget.attack],
        "p_a_lower": decimal_string(b.p_a_lower),
        "p_b_upper": decimal_string(b.p_b_upper),
        "certified": bool(certified),
        # Eq. 4 - Eq. 5 (exact value rounded down to 40 significant digits); > 0 iff certified
        "theorem1_gap": decimal_floor(result.decision.gap),
    }


def run_radius(args) -> int:
    p = _parse(args)
    ratio = int_list(args.ratio, "--ratio")
    engine = resolve_engine(args.engine)
    from ..fast.single import fits_int64

    if engine == "fast" and p["bound"] != "bonferroni" and fits_int64(p["counts"]):
        from ..fast.classify import radius_batch

        fr = radius_batch([list(p["counts"])], p["alpha"], p["n"], p["k"], ratio, p["attack"], p["method"],
                          bound=p["bound"])
        value, label = (None if int(fr.radius[0]) < 0 else int(fr.radius[0])), int(fr.label[0])
    elif engine == "fast":
        from ..fast.single import radius_value
        from ..votes import Votes

        value = radius_value(p["counts"], p["alpha"], p["n"], p["k"], ratio, p["attack"], p["method"])
        label = Votes(p["counts"]).label
    else:
        res = ref_radius(p["counts"], p["alpha"], p["n"], p["k"], ratio, p["attack"], p["method"], p["bound"])
        value, label = res.radius, res.label
    doc = {
        "method": p["method"].value,
        "engine": engine,
        "label": label,
        "radius": value,
        "ratio": list(ratio),
        "counts": list(p["counts"]),
        "alpha": str(args.alpha),
        "n": list(p["n"]),
        "k": list(p["k"]),
        "attack": [a.value for a in p["attack"]],
        "bound": p["bound"],
        "certified_budget": None if value is None else [value * c for c in ratio],
    }
    if args.json:
        print(json.dumps(doc))
    elif value is None:
        print(f"label {label}: not certified even at r = 0")
    else:
        print(f"label {label}: radius {value} (certified against r = {doc['certified_budget']})")
    return 0
