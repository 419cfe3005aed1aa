"""Attacks: PGD, text substitution, multimodal and element (l0) attacks, and the certificate harness.

Each attack is a class in its own module, called like a torchattacks attack; :data:`REGISTRY` maps
the names a run config uses to the classes (adding an attack is a new module and one line here).
Modules are imported lazily so that ``import mmcert_verified.attacks`` stays cheap.

* :mod:`.pgd` -- :class:`PGD` (l_inf / l2, random start) on any continuous modality (ATK.1)
* :mod:`.text` -- :class:`TokenSubstitution`, greedy within a word budget (ATK.2)
* :mod:`.multimodal` -- image, text and joint (Co-Attack / SGA-style) attacks on a dual encoder (ATK.3)
* :mod:`.retrieval` -- R@1 clean and under attack (ATK.4)
* :mod:`.adversarial_training` -- standard, unimodal AT, MAT and MAT+ contrastive training (ATK.5)
* :mod:`.element` -- modify / add / delete at most r_i elements per modality against a sub-sampled ensemble (ATK.6)
* :mod:`.harness` -- certificate falsification (ATK.7)
* :mod:`.pixel` -- :class:`PixelElementAttack`, local modification aimed at certified pixels (ATK.9)
* :mod:`.segmentation_harness` -- per-pixel falsification with Holm across certified pixels (ATK.10)
* :mod:`.smoothed` -- PGD against feature-space smoothing and its Monte Carlo / exact harnesses (ATK.11-12)
* :mod:`.variable_size` -- :class:`VariableSizeElementAttack`: modify, add and delete on variable-size models (ATK.13)
"""

from __future__ import annotations

import importlib

#: attack name -> "module:Class" (resolved on first use by :func:`attack_class`)
REGISTRY = {
    "pgd": "pgd:PGD",
    "token_substitution": "text:TokenSubstitution",
    "image": "multimodal:ImageAttack",
    "text": "multimodal:TextAttack",
    "multimodal": "multimodal:MultimodalAttack",
    "element_greedy": "element:GreedyElementAttack",
    "element_random": "element:RandomElementAttack",
    "element_pixel": "pixel:PixelElementAttack",
    "element_variable": "variable_size:VariableSizeElementAttack",
    "smoothed_pgd": "smoothed:SmoothedCosinePGD",
}


def attack_class(name: str):
    """The class registered as ``name``; an unknown name is an InvalidParameterError."""
    from mmcert_verified.errors import InvalidParameterError

    if name not in REGISTRY:
        raise InvalidParameterError(f"unknown attack {name!r}: choose one of {', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


__all__ = ["REGISTRY", "attack_class"]
