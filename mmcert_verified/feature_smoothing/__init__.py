"""Feature-space smoothing (FS): certified cosine bounds for encoders (spec ``spec/feature_smoothing.md``).

Smooth an encoder f with unit-norm features, F(x) = E f(x + delta), delta ~ N(0, sigma^2 I), and certify
a lower bound on <f(x), F(x')> and on cos(F(x'), f(x)) for every ||x' - x||_2 <= eps (the Feature
Cosine Similarity Bound), a radius, and a prediction-wise certificate with a cosine prototype head.

Public names: :func:`fcsb`, :func:`radius`, :func:`certified` (reference engine, exact);
:func:`score_lower`, :func:`score_upper`, :func:`statistics_from_cosines`, :class:`ScoreBound`
(estimation); the torch fast path is :mod:`.fast`, oracles :mod:`.oracles`, the model wrapper
:mod:`.encoder`.
"""

from .bound import FCSB, Radius, certified, fcsb, inner_lower, radius
from .estimation import ScoreBound, ScoreStatistics, score_lower, score_upper, statistics_from_cosines

__all__ = [
    "FCSB",
    "Radius",
    "ScoreBound",
    "ScoreStatistics",
    "certified",
    "fcsb",
    "inner_lower",
    "radius",
    "score_lower",
    "score_upper",
    "statistics_from_cosines",
]
