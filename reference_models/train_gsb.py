"""Train the Gaussian Smoothness Booster on the frozen image encoder and print the FS table (FS.11).

    python -m reference_models.train_gsb [--sigmas 0.25,0.5] [--steps 600] [--samples 500] [--table-only]

Writes ``weights/gsb_image_sigma{S}.safetensors`` (denoiser + mapper, ~30 KB each) unless
``--table-only`` (then it loads them), and prints the table of ``docs/feature_smoothing.md``: for the
``standard`` image encoder before and after GSB, the average over the 128 test images of the FCSB
(inner-product lower bound, FS.2) at several eps and the average radius for FCSB >= 0.5 (FS.4; inputs
with no radius count as 0), with S bounded by empirical Bernstein at alpha = 0.001 from ``--samples``
noise draws per image (seed 0, input index = image index).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mmcert_verified.feature_smoothing import ScoreBound, inner_lower, radius, score_lower, statistics_from_cosines
from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder
from mmcert_verified.feature_smoothing.gsb import BoostedEncoder, Denoiser, GSBTraining, SmoothnessMapper, train_gsb

from . import image_text

EPS = ["0.1", "0.25", "0.5", "0.75", "1.0"]
WEIGHTS = Path(__file__).parent / "weights"


def gsb_path(sigma: str) -> Path:
    return WEIGHTS / f"gsb_image_sigma{sigma}.safetensors"


def load_gsb(encoder, sigma: str, features: int = 32) -> BoostedEncoder:
    b = BoostedEncoder(encoder, Denoiser(3), SmoothnessMapper(features))
    state = load_file(gsb_path(sigma))
    b.denoiser.load_state_dict({k[len("denoiser."):]: v for k, v in state.items() if k.startswith("denoiser.")})
    b.mapper.load_state_dict({k[len("mapper."):]: v for k, v in state.items() if k.startswith("mapper.")})
    return b.eval()


def save_gsb(b: BoostedEncoder, sigma: str) -> None:
    state = {f"denoiser.{k}": v.contiguous() for k, v in b.denoiser.state_dict().items()}
    state.update({f"mapper.{k}": v.contiguous() for k, v in b.mapper.state_dict().items()})
    save_file(state, gsb_path(sigma))


def row(encode, sigma: str, images: torch.Tensor, samples: int) -> list[float]:
    sm = SmoothedEncoder(encode, float(sigma), batch_size=250)
    sig = Fraction(sigma)
    fcsb_sums = np.zeros(len(EPS))
    radii = 0.0
    for i in range(images.shape[0]):
        stats = statistics_from_cosines(sm.sample_cosines(images[i], samples, seed=0, index=i))
        s = score_lower(stats, Fraction(1, 1000), ScoreBound.BERNSTEIN)
        fcsb_sums += [float(inner_lower(s, sig, Fraction(e))) for e in EPS]
        r = radius(s, sig, Fraction(1, 2))
        radii += float(r.value) if r.value is not None else 0.0
    n = images.shape[0]
    return [*(fcsb_sums / n), radii / n]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sigmas", default="0.25,0.5")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--table-only", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    model = image_text.pretrained("standard")
    enc = model.encode_image
    train = image_text.train_set().images
    test = image_text.test_set().images
    print(f"| encoder | sigma | avg FCSB at eps = {', '.join(EPS)} | avg R (FCSB >= 0.5) |")
    print("|---|---|---|---|")
    for sigma in args.sigmas.split(","):
        if args.table_only:
            boosted = load_gsb(enc, sigma)
        else:
            boosted = train_gsb(enc, model, train, 32, GSBTraining(float(sigma), steps=args.steps))
            save_gsb(boosted, sigma)
        with torch.no_grad():
            for name, f in (("standard", enc), ("standard + GSB", boosted)):
                vals = row(f, sigma, test, args.samples)
                print(f"| {name} | {sigma} | {'; '.join(f'{v:.3f}' for v in vals[:-1])} | {vals[-1]:.3f} |")


if __name__ == "__main__":
    main()
