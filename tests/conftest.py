"""Shared test configuration.

Hypothesis profiles (select with HYPOTHESIS_PROFILE or --hypothesis-profile):
  dev  -- the default: quick, for every run of the suite on a laptop
  ci   -- heavier: more examples; .ci/run selects it
mpmath's global precision is reset around every test (as mpmath's own conftest does).
"""

from __future__ import annotations

import os

import mpmath
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _reset_mpmath_precision():
    saved = mpmath.mp.prec
    try:
        yield
    finally:
        mpmath.mp.prec = saved


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test, restored after: deterministic, and fair to the shared cores.
    A module opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device on this machine")
    for item in items:
        # the marker itself, not the keyword: "gpu" is also the name of the tests/gpu folder, and the
        # device-agnostic (CPU) halves of those tests must run everywhere (issue 10, item 7)
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
