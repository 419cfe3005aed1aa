"""``mmcert segment``: certified segmentation (issue #3 contract; --out and --segmented-modality added)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputFileError, InvalidParameterError
from ..threat_model import Attack, Method, parse_attacks
from .arguments import add_bound_argument, int_list, probability, resolve_engine
from .arrays import load_npy


def register(sub) -> None:
    p = sub.add_parser("segment", help="certify every pixel of a segmentation (Holm step-down)")
    p.add_argument("--counts", required=True, help="COUNTS.npy: integer votes (C,H,W), (C,P) or (B,C,H,W)")
    p.add_argument("--alpha", required=True, help="family-wise confidence level alpha in (0, 1), per image")
    p.add_argument("--n", required=True)
    p.add_argument("--k", required=True)
    p.add_argument("--r", required=True)
    p.add_argument("--attack", required=True)
    p.add_argument("--labels", help="LABELS.npy: integer labels (H,W), (P,) or (B,H,W)")
    p.add_argument("--segmented-attack", choices=[a.value for a in Attack],
                   help="attack on the segmented modality m_o (must agree with --attack/--r there)")
    p.add_argument("--r-o", type=str, default=None, help="elements added to / deleted from m_o")
    p.add_argument("--segmented-modality", default="1", help="which modality is segmented (1-based, default 1)")
    p.add_argument("--mask-out", help="write the certified-pixel mask (bool .npy); never overwrites")
    p.add_argument("--out", help="write a certificate (JSON + .npz sidecar); never overwrites")
    p.add_argument("--method", choices=[m.value for m in Method], default=Method.MMCERT.value)
    p.add_argument("--engine", choices=["reference", "fast"], default=None)
    add_bound_argument(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_segment)


def run_segment(args) -> int:
    n = int_list(args.n, "--n")
    k = int_list(args.k, "--k")
    r = int_list(args.r, "--r")
    if len(r) != len(n):
        raise InvalidParameterError(f"--r has {len(r)} entries but --n has {len(n)}")
    alpha = probability(args.alpha, "--alpha")
    attack = parse_attacks(args.attack, len(n))
    (o,) = int_list(args.segmented_modality, "--segmented-modality")
    if o < 1:
        raise InvalidParameterError("--segmented-modality is 1-based")
    if args.r_o is not None and args.segmented_attack is None:
        raise InvalidParameterError("--r-o needs --segmented-attack")
    r_o = int_list(args.r_o, "--r-o")[0] if args.r_o is not None else 0
    for flag, path in (("--mask-out", args.mask_out), ("--out", args.out)):
        if path and Path(path).exists():
            raise InputFileError(f"{flag} {path} already exists; refusing to overwrite it")
    counts = load_npy(args.counts, "--counts")
    labels = load_npy(args.labels, "--labels") if args.labels else None
    engine = resolve_engine(args.engine)
    if engine == "fast":
        from ..fast.segmentation import segment
    else:
        from ..reference.segmentation import segment
    result = segment(
        counts, alpha, n, k, r, attack, args.method, labels=labels,
        segmented_attack=args.segmented_attack, r_o=r_o, segmented_modality=o - 1, bound=args.bound,
    )
    doc = result.to_json()
    doc["alpha"] = str(args.alpha)
    doc["engine"] = engine
    if args.mask_out:
        with open(args.mask_out, "xb") as fh:
            np.save(fh, result.certified_mask, allow_pickle=False)
    if args.out:
        from ..certificates.writer import write_segmentation_certificate

        write_segmentation_certificate(
            args.out, np.asarray(counts), labels, alpha_text=args.alpha, n=n, k=k, r=r,
            attack=[a.value for a in attack], method=args.method,
            segmented_attack=result.segmented_attack.value, r_o=result.r_o, segmented_modality=o - 1,
            result_json=doc,  # a method other than bonferroni rides in doc's alpha_split (CERT.6)
        )
    if args.json:
        print(json.dumps(doc))
    else:
        bound = "" if args.bound == "bonferroni" else f", bound {args.bound}"
        lines = [f"{doc['certified_pixels']} of {doc['pixels']} pixels certified, "
                 f"{doc['abstained_pixels']} abstained ({args.method}, alpha = {args.alpha}{bound}, engine {engine})"]
        if "pixel_accuracy" in doc:
            lines.append(f"  certified pixel accuracy {doc['pixel_accuracy']:.4f}, "
                         f"F-score {doc['f_score']:.4f}, IoU {doc['iou']:.4f} (means over classes)")
        print("\n".join(lines))
    return 0
