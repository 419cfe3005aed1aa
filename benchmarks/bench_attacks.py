"""The retrieval robustness table of ``docs/attacks.md``: ``python benchmarks/bench_attacks.py``.

Clean and attacked image->text / text->image R@1 on the 128-pair test gallery of the synthetic
image-caption data, for the four committed image-text models (standard, unimodal AT, MAT, MAT+),
under the image attack (PGD l_inf 4/255, 10 steps of 1/255, random start), the text attack
(2 meaning-preserving substitutions, greedy, exact loss) and the multimodal attack (text, then
image PGD guided by both captions over scales 1, 0.75, 1.25, then text again).  Seed 0; one
thread; prints a Markdown table (about a minute).
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=image_text.IMAGE_EPS * 255, help="l_inf budget in 1/255 units")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
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
