"""The radius on a segmentation run's result line (clause RUN.10): how far along each ratio half the image holds.

A classification line carries t* per configured ratio d (clause R1).  A
segmentation image has no single label, so its line carries, per ratio d,

    radius_d = the largest integer t >= 0 such that at the budget R = t * d at
    least half of the image's n_o pixels are certified (SEG.3: 2 * certified >= n_o),

``None`` when t = 0 already fails.  Its guarantee is SEG.3's at that budget:
with probability at least 1 - alpha over the votes, every pixel certified at
t * d keeps its label under every attack within t * d, so at least half of the
image does.  The certified count is non-increasing in t (alpha* grows with the
budget, T1.5 / SEG.2, and Holm's step-down accepts a subset when the p-values
grow), so R1's search (doubling, then bisection, capped as R1 caps it) finds
the largest t.  Probes at budgets the config lists reuse the line's own
verdicts; any other probe is one engine call for that image, and each probe's
answer is an engine decision, so the radius reported always holds at its budget.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ...reference.certify import last_certified
from ...sampling.plan import SamplingPlan
from ...threat_model import Budget, max_radius_multiplier
from ..certifier import SegmentationVerdict, certify_segmentation_counts


def half_certified(certified_pixels: int, pixels: int) -> bool:
    """Clause RUN.10's criterion: at least half of the image's pixels certified."""
    return 2 * certified_pixels >= pixels


class SegmentationRadius:
    """Clause RUN.10 for every image of one run: the radius along each configured ratio."""

    def __init__(self, plan: SamplingPlan, budgets: Sequence[Budget], ratios: Sequence[Sequence[int]], alpha,
                 engine: Callable[..., Any], extra: dict | None = None) -> None:
        self.plan = plan
        self.budgets = tuple(budgets)
        self.ratios = tuple(tuple(int(c) for c in r) for r in ratios)
        self.alpha = alpha
        self.engine = engine
        self.extra = dict(extra or {})
        self.attack = self.budgets[0].attack if self.budgets else None
        self.limits = tuple(max_radius_multiplier(plan.setting, r, self.attack) for r in self.ratios)

    def radii(self, counts, pixels: int, verdicts: Sequence[SegmentationVerdict]) -> tuple[int | None, ...]:
        """radius_d per configured ratio d of one image ``(C, *spatial)`` whose verdicts at the config's budgets
        are ``verdicts`` (in the config's budget order)."""
        known = {v.r: v.certified_pixels for v in verdicts}

        def certified(r: tuple[int, ...]) -> int:
            if r not in known:
                verdict = certify_segmentation_counts(counts, self.alpha, self.plan, [Budget(r, self.attack)],
                                                      engine=self.engine, **self.extra)[0][0]
                known[r] = verdict.certified_pixels
            return known[r]

        return tuple(
            last_certified(lambda t, ratio=ratio: half_certified(certified(tuple(t * c for c in ratio)), pixels), limit)
            for ratio, limit in zip(self.ratios, self.limits)
        )


__all__ = ["SegmentationRadius", "half_certified"]
