"""PGD against feature-space smoothing inside the certified radii (ATK.11-12): exact on the closed-form
oracles (a violation is a proof), Monte Carlo with confidence bounds on the image-text image encoder;
the harness finds nothing against the sound bound and catches deliberately unsound ones."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from mmcert_verified.attacks.smoothed import (
    ExactFSHarness, FSHarness, SmoothedCosinePGD, Target, eot_smoothed, inside_ball, normalised,
)
from mmcert_verified.feature_smoothing import fcsb
from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder
from mmcert_verified.feature_smoothing.oracles import HalfSpaceEncoder, SignVectorEncoder, SlabEncoder
from attack_helpers import one_thread as _one_thread  # noqa: F401 (autouse fixture)


def doubled_sigma(score, sigma, eps):
    """Deliberately unsound: the FCSB with sigma doubled (certifies twice the radius)."""
    return fcsb(score, 2 * sigma, eps)


def ignore_eps(score, sigma, eps):
    """Deliberately unsound: the clean bound L(S, 0) = 2S - 1 claimed for the whole ball."""
    return fcsb(score, sigma, Fraction(0))


def test_inside_ball_is_exact():
    x = torch.zeros(5, dtype=torch.float32)
    xp = torch.full((5,), 0.1 / 5 ** 0.5, dtype=torch.float32) * 1.0000001  # a hair outside eps = 0.1
    got = inside_ball(x, xp, Fraction(1, 10))
    assert got.dtype == np.float32
    assert sum(Fraction(float(v)) ** 2 for v in got) <= Fraction(1, 100)
    assert np.allclose(got, xp.numpy(), rtol=1e-5)  # only a hair moved


def test_smoothed_pgd_is_deterministic_and_stays_in_the_ball():
    from reference_models import image_text

    model = image_text.pretrained("standard")
    x = image_text.test_set().images[0]
    clean = normalised(model.encode_image, x.unsqueeze(0))[0].detach()
    out = []
    for _ in range(2):
        smoothed = eot_smoothed(model.encode_image, 0.1, 4, torch.Generator().manual_seed(1))
        out.append(SmoothedCosinePGD(steps=3, seed=2)(smoothed, x, clean, 0.2))
    assert torch.equal(out[0], out[1])
    assert float((out[0] - x).norm()) <= 0.2 * (1 + 1e-6)  # PGD's projection, up to float rounding (ATK.1)


ORACLES = [
    # (encoder, clean input); inputs chosen away from the decision boundaries so feature_exact decides
    (HalfSpaceEncoder((1.0, -0.5, 0.25), 0.3, (0.6, 0.8), 0.5), [0.4, -0.2, 0.1]),
    (SignVectorEncoder(3, 0.5), [0.9, -0.7, 1.2, 0.3]),
    (SlabEncoder((1.0, 0.0, 0.0), 1.0, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), 0.25), [0.1, 0.5, -0.2]),
]


@pytest.mark.parametrize("oracle, x", ORACLES, ids=["half_space", "sign_vector", "slab"])
def test_exact_harness_no_violation_on_oracles(oracle, x):
    report = ExactFSHarness(oracle).run([torch.tensor(x, dtype=torch.float64)], SmoothedCosinePGD(steps=40),
                                        eps=[Fraction(1, 4)])
    assert report.findings  # at least the eps = 1/4 attack ran
    assert not report.violations


def test_exact_harness_reaches_the_bound_on_the_half_space():
    """Closeness (separate from soundness): the half-space FCSB is attained at x - eps w/||w|| (oracles
    docstring), so PGD gets within 10^-3 of the certified inner bound at each certified radius."""
    oracle, x = ORACLES[0]
    report = ExactFSHarness(oracle).run([torch.tensor(x, dtype=torch.float64)], SmoothedCosinePGD(steps=60))
    inner = [f for f in report.findings if f.target is Target.INNER]
    assert len(inner) == 2  # radii at tau = 1/2 and tau = 0 both exist (S > 3/4 here)
    for f in inner:
        assert f.inner_upper - float(f.inner_bound) <= 1e-3


@pytest.mark.parametrize("unsound", [doubled_sigma, ignore_eps], ids=["doubled_sigma", "ignore_eps"])
def test_exact_harness_catches_unsound_bounds_on_the_half_space(unsound):
    oracle, x = ORACLES[0]
    report = ExactFSHarness(oracle).run([torch.tensor(x, dtype=torch.float64)], SmoothedCosinePGD(steps=60),
                                        certifier=unsound)
    assert report.violations


def test_exact_harness_catches_the_printed_cosine_claim_below_zero():
    """D13: cos(F(x'), f(x)) >= L is false for L < 0 -- the harness finds that by PGD on the half-space."""
    oracle = HalfSpaceEncoder((1.0, 0.0), 0.0, (1.0, 0.0), 1.0)

    def printed(score, sigma, eps):
        b = fcsb(score, sigma, eps)
        return type(b)(b.score, b.sigma, b.eps, b.inner_lower, b.inner_lower, b.nonnegative)

    report = ExactFSHarness(oracle).run([torch.tensor([0.5, 0.0], dtype=torch.float64)], SmoothedCosinePGD(steps=40),
                                        taus=(), eps=[Fraction(1)], certifier=printed)
    assert report.violations and report.findings[0].cosine_bound < 0


def _image_harness(n_eval: int = 1000):
    from reference_models import image_text

    model = image_text.pretrained("unimodal_at")
    # sigma = 0.1: the score bound is about 0.95 on the gallery, so both radii (tau = 1/2, 0) exist
    enc = SmoothedEncoder(model.encode_image, 0.1)
    return FSHarness(enc, n_certify=500, n_direction=200, n_eval=n_eval, attack_samples=8), image_text.test_set().images


def test_monte_carlo_harness_no_violation_on_image_encoder():
    harness, images = _image_harness()
    report = harness.run([images[0]], SmoothedCosinePGD(steps=5))
    assert len(report.findings) == 4  # both certified radii reached, each attacked for both targets
    assert not report.violations


def test_monte_carlo_harness_catches_eps_ignoring_bound():
    """At eps = 1 the attacked smoothed inner product's 1000-draw upper confidence bound (measured 0.73;
    estimate 0.69) is far below the clean bound 2 S - 1 (0.897) that ``ignore_eps`` claims for the ball."""
    harness, images = _image_harness()
    report = harness.run([images[0]], SmoothedCosinePGD(steps=5), taus=(), eps=[Fraction(1)], certifier=ignore_eps,
                         targets=[Target.INNER])
    assert report.violations
    sound = harness.run([images[0]], SmoothedCosinePGD(steps=5), taus=(), eps=[Fraction(1)], targets=[Target.INNER])
    assert not sound.violations


@pytest.mark.slow
def test_monte_carlo_harness_larger_run():
    """16 gallery images, the certified radii at tau = 1/2 and 0 and eps = 0.25, 4000 evaluation draws."""
    harness, images = _image_harness(n_eval=4000)
    report = harness.run([images[i] for i in range(16)], SmoothedCosinePGD(steps=20), eps=[Fraction(1, 4)])
    assert not report.violations
