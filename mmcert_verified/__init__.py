"""mmcert-verified: MMCert certificates for multi-modal models, with checked numerics.

Public surface (everything else is internal):

* :func:`certify`, :func:`radius` -- the exact reference certifier (spec clauses T1, R1)
* :class:`Attack`, :class:`Method`, :class:`Setting`, :class:`Budget`, :class:`Votes`
* :class:`MMCertError` and its subclasses
* :class:`Certifier`, :class:`Task`, :class:`SamplingPlan`, :class:`Modality`, :class:`Ablation` --
  certify a torch model end to end (imported on first use: they need torch)
"""

from .errors import EnumerationTooLargeError, InputFileError, InvalidParameterError, MMCertError
from .reference.certify import Certification, RadiusResult, certify, radius
from .threat_model import Attack, Budget, Method, Setting
from .votes import Votes

__version__ = "0.1.0"
#: the newest version of spec/ this code implements (each certificate records the earliest version defining its kind; certificate_format.SPEC_VERSIONS)
SPEC_VERSION = "1.1"

_LAZY = {
    "Certifier": "mmcert_verified.pipeline.certifier",
    "Task": "mmcert_verified.pipeline.certifier",
    "SamplingPlan": "mmcert_verified.sampling",
    "Modality": "mmcert_verified.sampling",
    "Ablation": "mmcert_verified.sampling",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmcert_verified' has no attribute {name!r}")


__all__ = [
    "Ablation",
    "Attack",
    "Budget",
    "Certification",
    "Certifier",
    "EnumerationTooLargeError",
    "InputFileError",
    "InvalidParameterError",
    "MMCertError",
    "Method",
    "Modality",
    "RadiusResult",
    "SamplingPlan",
    "SPEC_VERSION",
    "Setting",
    "Task",
    "Votes",
    "certify",
    "radius",
]
