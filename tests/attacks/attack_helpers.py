"""Shared pieces of the attack tests: one torch thread per test (deterministic, and fair to the shared
cores) and the two certifiers the harness tests run: Theorem 1 as implemented (sound) and as printed (D2)."""

from __future__ import annotations

import pytest

from mmcert_verified.reference.theorem1 import SubsampleMasses, decide
from mmcert_verified.threat_model import attacked_sizes


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Autouse in every module that imports it: conftest's one-thread fixture."""
    yield


def sound(p_a, p_b, setting, budget) -> bool:
    return decide(p_a, p_b, SubsampleMasses.of(attacked_sizes(setting, budget))).certified


def non_strict(p_a, p_b, setting, budget) -> bool:
    """The paper's printed Theorem 1 (">=", deviation D2): deliberately unsound."""
    d = decide(p_a, p_b, SubsampleMasses.of(attacked_sizes(setting, budget)))
    return d.a - d.b >= d.threshold
