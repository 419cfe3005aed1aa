"""SmoothedEncoder (FS.9), prediction certificate (FS.7) and GSB composition (FS.11) on small torch models."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from torch import nn

from mmcert_verified.feature_smoothing import fcsb, score_lower, statistics_from_cosines
from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder
from mmcert_verified.feature_smoothing.gsb import BoostedEncoder, Denoiser, SmoothnessMapper
from mmcert_verified.feature_smoothing.prediction import certify_prediction


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


def test_prediction_certificate_on_a_constant_direction():
    # an encoder whose features ignore the input: every noisy feature is p_0, so class 0 is certified
    class Const(nn.Module):
        def forward(self, x):
            return torch.tensor([[1.0, 0.0]]).expand(x.shape[0], 2) + 0 * x.flatten(1)[:, :1]

    sm = SmoothedEncoder(Const(), 0.5)
    protos = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    cert = certify_prediction(sm, torch.zeros(4), protos, 16, 400, "0.001")
    assert cert.label == 0 and cert.radius is not None and cert.radius > 0
    # G_0 = 1 exactly, G_1 = 1/2: the Hoeffding bounds at alpha/3 are 1 - d and 1/2 + d, d = sqrt(ln(3000)/800)
    assert cert.lower < 1 and cert.upper > Fraction(1, 2)


def test_boosted_encoder_is_unit_norm_and_starts_near_identity():
    m = toy()
    b = BoostedEncoder(lambda x: m(x.flatten(1)), Denoiser(3), SmoothnessMapper(4))
    x = torch.rand(5, 3, 2, 2)
    out = b(x)
    assert torch.allclose(out.norm(dim=-1), torch.ones(5, dtype=out.dtype), atol=1e-6)
