"""Adaptive sampling in the Certifier (clauses CS.1, CS.2) on a small real torch model.

The model votes by the one kept element of modality ``a`` (k_a = 1): class 0 iff that element is 1.0.
So an input whose ``a`` holds h ones out of 10 has p_0 = h / 10 exactly (S1: the kept element is uniform):
h = 10 is a confident input (every vote for 0), h = 6 a borderline one (p = 0.6 / 0.4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmcert_verified.bounds.sequential import Schedule, Status, budget_status, certify_sequential, round_bounds
from mmcert_verified.pipeline.certifier import Certifier, Task
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import Modality, SamplingPlan
from mmcert_verified.threat_model import Budget, Method
from e2e_toy import CountingModule

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODALITIES = (Modality.sequence("a", 1, 10), Modality.sequence("b", 1, 10))
PLAN = SamplingPlan(MODALITIES, (1, 1), Method.MMCERT)
#: r = 0 (needs p_A > p_B), and r = (1, 0): Delta = 2 (1 - 9/10) = 0.2 (T1.4), so p = 0.6 / 0.4 can never
#: be certified there (a gap of exactly 0.2 is not > 0.2) while p = 1 is at once
BUDGETS = (Budget((0, 0), "modify"), Budget((1, 0), "modify"))
SCHEDULE = Schedule((25, 50, 100, 200, 400, 800))
ALPHA = "0.05"


class KeptElementVoter(CountingModule):
    """Class 0 iff the kept element of ``a`` is 1.0 (values times the mask channel); counts calls and rows."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.count(a.shape[0])
        s = (a[:, 0] * a[:, 1]).sum(1)
        return torch.stack([s, torch.full_like(s, 0.5)], dim=1)


def clip(ones: int) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.zeros(1, 10)
    a[0, :ones] = 1.0
    return a, torch.linspace(0, 1, 10).view(1, 10)


CONFIDENT, BORDERLINE = clip(10), clip(6)


def certifier(seed: int = 3, batch_size: int = 16, n_samples: int = 100, task=Task.CLASSIFICATION) -> Certifier:
    return Certifier(KeptElementVoter(), PLAN, task, 2, n_samples=n_samples, batch_size=batch_size, seed=seed)


@pytest.mark.parametrize("bound", ["bonferroni", "combined"])
@pytest.mark.parametrize("x", [CONFIDENT, BORDERLINE], ids=["confident", "borderline"])
def test_adaptive_equals_certify_sequential_on_the_fixed_n_votes(x, bound):
    """CS.2: round j's cumulative counts are the fixed-N votes at N = N_j (CPU); fed to CS.1's
    certify_sequential as increments, they give exactly the Certifier's result."""
    got = certifier().certify_adaptive(x, 4, ALPHA, BUDGETS, SCHEDULE, bound=bound, label=0)
    cumulative = [certifier(n_samples=n).votes(x, 4) for n in SCHEDULE.sizes]  # independent path: votes()
    increments = iter([cumulative[0]] + [b - a for a, b in zip(cumulative, cumulative[1:])])
    want = certify_sequential(lambda m: next(increments), ALPHA, SCHEDULE, PLAN.setting, BUDGETS, bound)
    assert got.result == want
    assert got.counts == tuple(int(c) for c in cumulative[got.round - 1])
    assert got.bound.value == bound and got.result.bounds.rule == bound
    assert tuple(v.certified for v in got.verdicts) == want.certified


def test_stops_at_once_on_a_confident_input_and_late_on_a_borderline_one():
    c = certifier().certify_adaptive(CONFIDENT, 0, ALPHA, BUDGETS, SCHEDULE)
    # 25 of 25 votes for 0: CP.1(25, 25, 0.05/2/2) = 0.0125^(1/25) = 0.839 > 0.2 + CP.2(0, 25, ...) = 0.161
    assert (c.round, c.samples, tuple(v.certified for v in c.verdicts)) == (1, 25, (True, True))
    assert c.label is None and c.certified_correct() == (False, False)  # no true label: never 'correct'
    b = certifier().certify_adaptive(BORDERLINE, 0, ALPHA, BUDGETS, SCHEDULE, label=0)
    # r = (1, 0) needs p_A - p_B > 0.2 = the true gap: it can only become hopeless (CS.1), late
    # (open to the end: at N = 800 the optimistic bounds are about 0.64 and 0.36 at level alpha_6, a gap
    # > 0.2), so it stops at N_max, the cap: 800 votes, r = 0 certified, r = (1, 0) not
    assert (b.round, b.samples, tuple(v.certified for v in b.verdicts)) == (SCHEDULE.rounds, 800, (True, False))
    first = np.asarray(certifier(n_samples=25).votes(BORDERLINE, 0))
    bounds = round_bounds(first, ALPHA, SCHEDULE, 1)
    assert budget_status(first, bounds, PLAN.setting, BUDGETS[1]) is Status.OPEN  # why round 1 did not stop


def test_samples_recorded_are_the_forward_passes_made():
    cert = certifier(batch_size=16)
    got = cert.certify_adaptive(BORDERLINE, 2, ALPHA, BUDGETS, SCHEDULE)
    assert cert.model.rows == got.samples == sum(got.counts)
    # batches per round: ceil((N_j - N_(j-1)) / 16), by hand from the schedule
    steps = np.diff((0,) + SCHEDULE.sizes[: got.round])
    assert cert.model.calls == sum(math.ceil(s / 16) for s in steps)


def test_a_rerun_is_identical_and_the_seed_matters():
    a = certifier(seed=5).certify_adaptive(BORDERLINE, 1, ALPHA, BUDGETS, SCHEDULE, label=0)
    b = certifier(seed=5, batch_size=7).certify_adaptive(BORDERLINE, 1, ALPHA, BUDGETS, SCHEDULE, label=0)
    assert a == b  # CPU: the votes do not depend on the batch size either (SAMP.3)
    assert a.to_json()["samples"] == a.samples and a.to_json()["schedule"] == list(SCHEDULE.sizes)
    other = certifier(seed=6).certify_adaptive(BORDERLINE, 1, ALPHA, BUDGETS, SCHEDULE, label=0)
    assert other.counts != a.counts


@pytest.mark.parametrize("schedule, message", [
    ([25, 25], "strictly increasing"),
    ([50, 25], "strictly increasing"),
    ([0, 25], "strictly increasing"),
    ([], "strictly increasing"),
    ("25,50", "list of cumulative vote counts"),
    (100, "list of cumulative vote counts"),
    ([25.5, 50], "must be integers"),
    (["a", 50], "must be integers"),
    ([True, 50], "must be integers"),
])
def test_bad_schedules_are_precise_errors_before_any_vote(schedule, message):
    cert = certifier()
    with pytest.raises(InvalidParameterError, match=message):
        cert.certify_adaptive(CONFIDENT, 0, ALPHA, BUDGETS, schedule)
    assert cert.model.calls == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(bound="holm"), "unknown bound method"),
    (dict(budgets=()), "at least one budget"),
    (dict(budgets=(Budget((11, 0), "modify"),)), "modif"),
    (dict(alpha="1.5"), "alpha"),
])
def test_bad_parameters_are_precise_errors_before_any_vote(kwargs, message):
    cert = certifier()
    args = dict(alpha=ALPHA, budgets=BUDGETS, schedule=SCHEDULE) | kwargs
    bound = args.pop("bound", "bonferroni")
    with pytest.raises(InvalidParameterError, match=message):
        cert.certify_adaptive(CONFIDENT, 0, args["alpha"], args["budgets"], args["schedule"], bound=bound)
    assert cert.model.calls == 0


def test_segmentation_is_refused():
    cert = certifier(task=Task.SEGMENTATION)
    with pytest.raises(InvalidParameterError, match="classification only"):
        cert.certify_adaptive(CONFIDENT, 0, ALPHA, BUDGETS, SCHEDULE)
