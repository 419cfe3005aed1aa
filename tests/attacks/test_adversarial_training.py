"""Contrastive (adversarial) training, clause ATK.5: the loss by hand, and what fit_contrastive trains on.

Fast checks on a tiny dual encoder; the byte-for-byte reproduction of the committed standard weights is
``tests/attacks/test_harness.py::test_standard_image_text_weights_reproduce`` (slow, about 20 s).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from mmcert_verified.attacks.adversarial_training import Recipe, contrastive_loss, fit_contrastive


class Tiny(nn.Module):
    """A dual encoder with unit-norm features; records the first token of every caption it encodes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.image = nn.Linear(4, 3)
        self.text = nn.Embedding(8, 3)
        self.seen: set[int] = set()

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(x.flatten(1)), dim=-1)

    def encode_text(self, t: torch.Tensor) -> torch.Tensor:
        self.seen.update(int(v) for v in t[:, 0])
        return F.normalize(self.text(t).mean(1), dim=-1)


def data(captions: int = 1):
    gen = torch.Generator().manual_seed(1)
    images = torch.rand((8, 4), generator=gen)
    # caption c of example e: tokens (c, e mod 4 + 4), so the first token says which caption was used
    tokens = torch.tensor([[[c, e % 4 + 4] for c in range(captions)] for e in range(8)])
    groups = torch.arange(8) // 2
    return images, tokens, groups


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


RECIPE = Recipe(epochs=3, batch_size=4, lr=0.05, temperature=0.5, seed=0)


def test_contrastive_loss_by_hand_masks_same_group_negatives():
    eye = torch.eye(3)
    # logits = I / 1: row 0 is (1, -inf, 0) once its same-group column 1 is masked, row 1 (-inf, 1, 0),
    # row 2 (0, 0, 1); cross entropy -log(e / (e + 1)) twice and -log(e / (e + 2)); symmetric both ways
    expected = (2 * math.log((math.e + 1) / math.e) + math.log((math.e + 2) / math.e)) / 3
    got = float(contrastive_loss(eye, eye, torch.tensor([0, 0, 1]), 1.0))
    assert abs(got - expected) <= 1e-6  # float32 rounding of a few logs
    # all groups distinct: every row -log(e / (e + 2))
    got = float(contrastive_loss(eye, eye, torch.tensor([0, 1, 2]), 1.0))
    assert abs(got - math.log((math.e + 2) / math.e)) <= 1e-6


def test_fit_is_deterministic_for_a_seed():
    images, tokens, groups = data()
    runs = [weights(fit_contrastive(Tiny(), images, tokens, groups, RECIPE, log=lambda s: None)) for _ in range(2)]
    other = weights(fit_contrastive(Tiny(), images, tokens, groups, Recipe(**{**RECIPE.__dict__, "seed": 1}),
                                    log=lambda s: None))
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    assert not all(torch.equal(a, b) for a, b in zip(runs[0], other))


def test_adversarial_training_trains_on_the_perturbed_batch():
    images, tokens, groups = data()

    def perturb(x, t, seed):  # an elementwise "attack": the same as training on 1 - images throughout
        return 1 - x, t

    adv = weights(fit_contrastive(Tiny(), images, tokens, groups, RECIPE, perturb=perturb, log=lambda s: None))
    direct = weights(fit_contrastive(Tiny(), 1 - images, tokens, groups, RECIPE, log=lambda s: None))
    clean = weights(fit_contrastive(Tiny(), images, tokens, groups, RECIPE, log=lambda s: None))
    assert all(torch.equal(a, b) for a, b in zip(adv, direct))
    assert not all(torch.equal(a, b) for a, b in zip(adv, clean))


def test_one_to_many_draws_every_caption_and_one_to_one_only_the_first():
    images, tokens, groups = data(captions=3)
    many = Tiny()
    fit_contrastive(many, images, tokens, groups, Recipe(**{**RECIPE.__dict__, "epochs": 6}), one_to_many=True,
                    log=lambda s: None)
    one = Tiny()
    fit_contrastive(one, images, tokens, groups, RECIPE, log=lambda s: None)
    # 6 epochs x 8 draws from 3 captions: every caption is drawn (seeded; for random draws P(some caption missed) <= 3 (2/3)^48 ~ 1e-8)
    assert many.seen == {0, 1, 2} and one.seen == {0}
