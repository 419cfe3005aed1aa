"""attacks/ensemble_search.EnsembleSearch: each attack takes exactly its own search sizes, checked (ATK.6)."""

from __future__ import annotations

import pytest
import torch

from mmcert_verified.attacks.element import GreedyElementAttack, RandomElementAttack
from mmcert_verified.attacks.pixel import PixelElementAttack
from mmcert_verified.attacks.variable_size import VariableSizeElementAttack
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import Modality, SamplingPlan

PLAN = SamplingPlan((Modality.sequence("s", 1, 4),), (1,))  # one modality of 4 one-value elements, k = 1
MODEL = torch.nn.Identity()
ATTACKS = (RandomElementAttack, GreedyElementAttack, PixelElementAttack, VariableSizeElementAttack)


@pytest.mark.parametrize("cls", ATTACKS)
def test_defaults_are_stored_with_their_types(cls):
    atk = cls(MODEL, PLAN, 3)
    assert (atk.model, atk.plan, atk.classes) == (MODEL, PLAN, 3)
    for name, value in cls.DEFAULTS.items():  # the class's own table is the expected value
        assert getattr(atk, name) == value and type(getattr(atk, name)) is type(value)


@pytest.mark.parametrize("cls", ATTACKS)
def test_given_sizes_override_the_defaults_and_are_cast(cls):
    atk = cls(MODEL, PLAN, 2, restarts="3", seed=7.0, boxes=[(0, 1)])
    assert (atk.restarts, atk.seed, atk.boxes) == (3, 7, ((0.0, 1.0),))


@pytest.mark.parametrize("cls, name", [(RandomElementAttack, "steps"), (RandomElementAttack, "window"),
                                       (GreedyElementAttack, "candidates"), (PixelElementAttack, "candidates"),
                                       (VariableSizeElementAttack, "window")])
def test_a_size_the_attack_does_not_have_is_refused(cls, name):
    with pytest.raises(TypeError, match=name):
        cls(MODEL, PLAN, 2, **{name: 1})


OUT_OF_RANGE = (("restarts", 0), ("eval_votes", 0), ("steps", -1), ("samples", 0), ("candidates", 0),
                ("window", -1), ("batch_size", 0))


@pytest.mark.parametrize("cls, name, value", [(cls, name, value) for cls in ATTACKS
                                              for name, value in OUT_OF_RANGE if name in cls.DEFAULTS])
def test_a_size_out_of_range_is_refused(cls, name, value):
    with pytest.raises(InvalidParameterError, match=f"{name} >= "):
        cls(MODEL, PLAN, 2, **{name: value})
