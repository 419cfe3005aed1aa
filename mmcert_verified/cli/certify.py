"""``mmcert certify``: certify one classification prediction against a budget r (issue #2 contract)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import EngineDisagreementError, InputFileError, InvalidParameterError
from ..reference.certify import certify as ref_certify
from ..reference.clopper_pearson import decimal_floor, decimal_string
from .arguments import add_classification_arguments, int_list, parse_classification, resolve_engine


def register(sub) -> None:
    p = sub.add_parser("certify", help="certify one prediction against a budget r")
    add_classification_arguments(p)
    p.add_argument("--r", required=True, help="budget per modality r1,...,rT")
    p.add_argument("--out", help="also write a certificate (JSON) to FILE; never overwrites")
    p.set_defaults(handler=run_certify)


def run_certify(args) -> int:
    p = parse_classification(args)
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
        from ..certificates.writer import write_classification_certificate

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
