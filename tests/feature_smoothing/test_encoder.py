"""SmoothedEncoder (FS.9), prediction certificate (FS.7) and GSB composition (FS.11) on small torch models."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from torch import nn

import mpmath

from mmcert_verified.feature_smoothing import fcsb, radius, score_lower, statistics_from_cosines
from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder
from mmcert_verified.feature_smoothing.gsb import BoostedEncoder, Denoiser, GSBTraining, SmoothnessMapper, train_gsb
from mmcert_verified.feature_smoothing.prediction import certify_prediction

from . import mp_reference as mp


def toy() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 4))


def test_cosines_are_seeded_per_input_and_independent_of_batch_size():
    m = toy()
    x = torch.rand(3, 2, 2)
    a = SmoothedEncoder(m, 0.25, batch_size=7).sample_cosines(x, 50, seed=3, index=5)
    b = SmoothedEncoder(m, 0.25, batch_size=50).sample_cosines(x, 50, seed=3, index=5)
    c = SmoothedEncoder(m, 0.25, batch_size=50).sample_cosines(x, 50, seed=3, index=6)
    # the noise is identical; the float32 model output may differ by rounding with the batch size (~1e-8)
    assert np.abs(a - b).max() <= 1e-6 and np.abs(a - c).max() > 1e-3
    assert a.shape == (50,) and (a >= -1).all() and (a <= 1).all()


def test_certify_is_the_pipeline_of_its_parts():
    m = toy()
    x = torch.rand(3, 2, 2)
    sm = SmoothedEncoder(m, 0.1)
    res = sm.certify(x, 200, "0.01", ["0.05", "0.2"], seed=1, index=2)
    s = score_lower(statistics_from_cosines(sm.sample_cosines(x, 200, seed=1, index=2)), Fraction(1, 100))
    assert res.score_lower == s
    assert res.bounds[0] == fcsb(s, Fraction(0.1), Fraction(1, 20))
    assert res.radius == radius(s, Fraction(0.1), Fraction(1, 2))  # tau defaults to 1/2
    assert sm.certify(x, 200, "0.01", ["0.05"], tau="0.2", seed=1, index=2).radius == radius(
        s, Fraction(0.1), Fraction(1, 5))


def test_noise_has_standard_deviation_sigma():
    # f(z) = normalize((z, 1)): the noise delta = (f_1 / f_2, ..) - x is recovered from each noisy feature
    class Lift(nn.Module):
        def forward(self, z):
            return torch.cat([z, torch.ones(z.shape[0], 1, dtype=z.dtype)], dim=1)

    x = torch.zeros(4, dtype=torch.float64)
    feats = torch.cat(list(SmoothedEncoder(Lift(), 0.3).noisy_features(x, 2000, seed=0, index=0)))
    delta = feats[:, :4] / feats[:, 4:]
    # 8000 N(0, 0.09) draws: the sample standard deviation is within 0.3 (1 +- 0.05) except with
    # probability ~1e-10 (its relative standard error is 1/sqrt(2 * 8000) = 0.008); 2 sigma would fail
    assert abs(float(delta.std()) / 0.3 - 1) < 0.05
    assert abs(float(delta.mean())) < 0.02  # standard error 0.3 / sqrt(8000) = 0.0034


def test_prediction_certificate_on_a_constant_direction():
    # an encoder whose features ignore the input: every noisy feature is p_0, so class 0 is certified
    class Const(nn.Module):
        def forward(self, x):
            return torch.tensor([[1.0, 0.0]]).expand(x.shape[0], 2) + 0 * x.flatten(1)[:, :1]

    sm = SmoothedEncoder(Const(), 0.5)
    protos = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    cert = certify_prediction(sm, torch.zeros(4), protos, 16, 400, "0.001")
    assert cert.label == 0 and cert.radius is not None and cert.radius > 0
    # G_0 = 1 exactly, G_1 = 1/2, G_2 = 0: the Hoeffding bounds at alpha/3 are 1 - d and max(1/2 + d, d),
    # d = sqrt(ln(3000)/800) (FS.5 at level alpha / C, C = 3), rounded outward to 10^-30
    with mpmath.workdps(mp.DPS):
        d = mpmath.sqrt(mpmath.log(3000) / 800)
        lo, hi = mp.fraction_of(1 - d), mp.fraction_of(mpmath.mpf(1) / 2 + d)
    tol = Fraction(1, 10**25)
    assert cert.lower <= lo and lo - cert.lower <= tol
    assert cert.upper >= hi and cert.upper - hi <= tol and cert.runner_up == 1
    # radius (sigma / 2)(Phi^-1(lower) - Phi^-1(upper)) of the returned bounds, rounded down (FS.7)
    with mpmath.workdps(mp.DPS):
        exact = mp.fraction_of(mp.mpq(Fraction(1, 2)) / 2 * (mp.phi_inverse(cert.lower) - mp.phi_inverse(cert.upper)))
    assert cert.radius <= exact and exact - cert.radius <= tol


def test_boosted_encoder_is_unit_norm_and_starts_near_identity():
    m = toy()
    b = BoostedEncoder(lambda x: m(x.flatten(1)), Denoiser(3), SmoothnessMapper(4))
    x = torch.rand(5, 3, 2, 2)
    out = b(x)
    assert torch.allclose(out.norm(dim=-1), torch.ones(5, dtype=out.dtype), atol=1e-6)
    # at the start the mapper is exactly the identity on unit features, and P(x) = x + D(x)
    g = torch.nn.functional.normalize(m(b.denoiser(x).flatten(1)), dim=-1)
    assert torch.equal(b.mapper(g), g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    assert torch.equal(b.denoiser(x), x + b.denoiser.net(x)) and not torch.equal(b.denoiser(x), x)
    assert torch.allclose(out, g, atol=1e-6)


def test_gsb_training_freezes_the_encoder_and_is_seeded():
    m = toy()
    before = [p.detach().clone() for p in m.parameters()]
    images = torch.rand(6, 3, 2, 2, generator=torch.Generator().manual_seed(2))
    cfg = GSBTraining(sigma=0.25, steps=3, batch=4)
    runs = [train_gsb(lambda z: m(z.flatten(1)), m, images, 4, cfg, progress=False) for _ in range(2)]
    assert all(not p.requires_grad for p in m.parameters())
    assert all(torch.equal(p, q) for p, q in zip(m.parameters(), before))
    assert all(torch.equal(p, q) for p, q in zip(runs[0].parameters(), runs[1].parameters()))
