"""Seeded sub-sampling and vote counting on the model's device (clauses S1, S4, SAMP.1-3, V1).

* :class:`Modality`, :class:`Ablation` -- what a basic element is, how an ablated one is written
* :func:`draw_keep_masks` -- exactly-k keep masks, independent (MMCert) or pooled (baseline);
  :data:`SAMPLING_SCHEME` names how they are drawn (clause SAMP.4)
* :class:`SamplingPlan` -- modalities + method + k; draws and encodes sub-sampled inputs
* :func:`input_seed`, :func:`input_generator` -- one deterministic stream per input
* :class:`VoteCounter` -- counts of the model's labels, accumulated batch by batch
"""

from .counting import VoteCounter
from .modality import Ablation, Modality
from .plan import SamplingPlan
from .seeds import input_generator, input_seed
from .subsample import SAMPLING_SCHEME, draw_keep_masks

__all__ = [
    "Ablation",
    "Modality",
    "SAMPLING_SCHEME",
    "SamplingPlan",
    "VoteCounter",
    "draw_keep_masks",
    "input_generator",
    "input_seed",
]
