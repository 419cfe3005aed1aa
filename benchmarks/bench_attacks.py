"""The tables of ``docs/attacks.md``: ``python benchmarks/bench_attacks.py [--table retrieval|segmentation|fs]``.

``retrieval`` (the default):

Clean and attacked image->text / text->image R@1 on the 128-pair test gallery of the synthetic
image-caption data, for the four committed image-text models (standard, unimodal AT, MAT, MAT+),
under the image attack (PGD l_inf 4/255, 10 steps of 1/255, random start), the text attack
(2 meaning-preserving substitutions, greedy, exact loss) and the multimodal attack (text, then
image PGD guided by both captions over scales 1, 0.75, 1.25, then text again).  Seed 0; one
thread; prints a Markdown table (about a minute).

``segmentation``: the falsification harness (ATK.9-10) on the road model, 6 test scenes, r = t (1, 2)
for t = 1, 4, 8, 12, 2 restarts of 10 steps, 1000 attacked votes, reference engine (about 5 minutes).

``fs``: PGD against the feature-space-smoothed image encoder (ATK.11-12), sigma = 0.1, 8 gallery images,
at the certified radii for tau = 1/2 and 0, both targets (about 2 minutes).
"""

from __future__ import annotations

import argparse

import torch

from mmcert_verified.attacks.adversarial_training import TrainingKind
from mmcert_verified.attacks.multimodal import ImageAttack, MultimodalAttack, TextAttack
from mmcert_verified.attacks.pgd import PGD
from mmcert_verified.attacks.retrieval import attacked_recall
from mmcert_verified.attacks.text import Guide, TokenSubstitution
from reference_models import image_text
from reference_models.image_text_data import meaning_preserving


def attacks(model, eps: float, steps: int, seed: int):
    sub = TokenSubstitution(meaning_preserving(), budget=image_text.TEXT_BUDGET, guide=Guide.LOSS)
    pgd = PGD(eps=eps, alpha=eps / 4, steps=steps, seed=seed)
    return {"clean": None, "image PGD": ImageAttack(model, pgd), "text subst.": TextAttack(model, sub),
            "multimodal": MultimodalAttack(model, sub, pgd)}


def segmentation_table(seed: int) -> None:
    from mmcert_verified.attacks.pixel import PixelElementAttack
    from mmcert_verified.attacks.segmentation_harness import SegmentationHarness
    from mmcert_verified.sampling import SamplingPlan
    from mmcert_verified.threat_model import Budget
    from reference_models import road
    from reference_models.road_data import test_set

    model, plan = road.pretrained("mmcert"), SamplingPlan(road.MODALITIES, (100, 5))
    data = test_set(6)
    budgets = [Budget((t, 2 * t), "modify") for t in (1, 4, 8, 12)]
    atk = PixelElementAttack(model, plan, 2, restarts=2, steps=10, samples=64, eval_votes=100, seed=seed)
    rep = SegmentationHarness(model, plan, 2, n_certify=100, n_attack=1000, seed=seed).run(
        [data[i][0] for i in range(6)], [data[i][1].numpy() for i in range(6)], budgets, atk, progress=True)
    print("Road model (MMCert, k = (100, 5), N = 100, alpha = 0.001), 6 scenes x 3072 pixels; "
          "1000 attacked votes, Holm at beta = 0.001\n")
    print("| r (RGB, depth) | certified pixel acc. | empirical robust pixel acc. | certified pixels kept | "
          "smallest attacked vote margin of a certified pixel | smallest p-value | violations |")
    print("|---|---|---|---|---|---|---|")
    for sm in rep.summaries:
        fs = [f for f in rep.findings if f.r == sm.r and f.min_p_value is not None]
        p = f"{float(min(f.min_p_value for f in fs)):.3g}" if fs else "-"
        m = f"{min(f.min_attacked_margin for f in fs):.3f}" if fs else "-"
        print(f"| {sm.r} | {100 * sm.certified_accuracy:.1f} % | {100 * sm.empirical_robust_accuracy:.1f} % | "
              f"{100 * sm.certified_kept_fraction:.2f} % | {m} | {p} | {sm.violations} |", flush=True)


def fs_table(seed: int) -> None:
    from fractions import Fraction

    import numpy as np

    from mmcert_verified.attacks.smoothed import FSHarness, SmoothedCosinePGD, Target
    from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder

    images = image_text.test_set().images[:8]
    print("Image encoder, sigma = 0.1, 8 gallery images; certificate: 1000 draws, empirical Bernstein, "
          "alpha = 0.001; attack: 20 l2 PGD steps on 16-draw EOT; test: 2000 fresh draws, beta = 0.001\n")
    print("| training | tau | radius (mean) | certified bound | clean <f(x), F(x)> (mean) | attacked inner: "
          "estimate min / upper bound min | attacked cosine: estimate min / upper bound min | violations |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("standard", "unimodal_at", "mat"):
        enc = SmoothedEncoder(image_text.pretrained(kind).encode_image, 0.1)
        clean = float(np.mean([enc.sample_cosines(x, 1000, seed, i).mean() for i, x in enumerate(images)]))
        for tau in (Fraction(1, 2), Fraction(0)):
            rep = FSHarness(enc, n_certify=1000, n_eval=2000, attack_samples=16, seed=seed).run(
                list(images), SmoothedCosinePGD(steps=20, seed=seed), taus=(tau,))
            inner = [f for f in rep.findings if f.target is Target.INNER]
            cos = [f for f in rep.findings if f.target is Target.COSINE]
            if not inner:
                print(f"| {kind} | {tau} | none | - | {clean:.3f} | - | - | 0 |")
                continue
            print(f"| {kind} | {tau} ({len(inner)} of 8 certified) | {np.mean([float(f.eps) for f in inner]):.4f} | "
                  f"{min(float(f.cosine_bound) for f in inner):.3f} | {clean:.3f} | "
                  f"{min(f.inner_estimate for f in inner):.3f} / {min(f.inner_upper for f in inner):.3f} | "
                  f"{min(f.estimate for f in cos):.3f} / {min(f.cosine_upper for f in cos):.3f} | "
                  f"{len(rep.violations)} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", choices=["retrieval", "segmentation", "fs"], default="retrieval")
    parser.add_argument("--eps", type=float, default=image_text.IMAGE_EPS * 255, help="l_inf budget in 1/255 units")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.table == "segmentation":
        segmentation_table(args.seed)
        return 0
    if args.table == "fs":
        fs_table(args.seed)
        return 0
    data = image_text.test_set()
    names = list(attacks(None, 0.0, 0, 0))
    print(f"R@1 (%) image->text / text->image, 128-pair gallery; eps = {args.eps:g}/255, "
          f"{image_text.TEXT_BUDGET} words, {args.steps} PGD steps, seed {args.seed}\n")
    print("| training | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for kind in TrainingKind:
        model = image_text.pretrained(kind)
        cells = []
        for atk in attacks(model, args.eps / 255, args.steps, args.seed).values():
            r = attacked_recall(model, data.images, data.tokens[:, 0], atk)
            cells.append(f"{100 * r.image_to_text:.1f} / {100 * r.text_to_image:.1f}")
        print(f"| {kind.value} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
