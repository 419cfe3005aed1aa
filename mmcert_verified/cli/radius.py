"""``mmcert radius``: the largest t certified against r = t * (c1, ..., cT) (issue #2 contract)."""

from __future__ import annotations

import json

from ..reference.certify import radius as ref_radius
from .arguments import add_classification_arguments, int_list, parse_classification, resolve_engine


def register(sub) -> None:
    p = sub.add_parser("radius", help="largest t certified against r = t*(c1,...,cT)")
    add_classification_arguments(p)
    p.add_argument("--ratio", required=True, help="budget direction c1,...,cT")
    p.set_defaults(handler=run_radius)


def run_radius(args) -> int:
    p = parse_classification(args)
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
