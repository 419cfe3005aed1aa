"""mmcert-verified: MMCert certificates for multi-modal models, with checked numerics.

Public surface (everything else is internal):

* :func:`certify`, :func:`radius` -- the exact reference certifier (spec clauses T1, R1)
* :class:`Attack`, :class:`Method`, :class:`Setting`, :class:`Budget`, :class:`Votes`
* :class:`MMCertError` and its subclasses
* :class:`Certifier`, :class:`Task`, :class:`SamplingPlan`, :class:`Modality`, :class:`Ablation` --
  certify a torch model end to end (they need torch)

Everything but the errors is imported on first use.
"""

from .errors import EnumerationTooLargeError, InputFileError, InvalidParameterError, MMCertError

__version__ = "0.1.0"
#: the newest version of spec/ this code implements (each certificate records the earliest version defining its kind; certificate_format.SPEC_VERSIONS)
SPEC_VERSION = "1.1"

#: the rest of the public surface, imported on first use: ``import mmcert_verified.cli`` (every ``mmcert``
#: command) then costs no mpmath or reference engine before the verb needs them (issue 16)
_LAZY = {
    "Certification": "mmcert_verified.reference.certify",
    "RadiusResult": "mmcert_verified.reference.certify",
    "certify": "mmcert_verified.reference.certify",
    "radius": "mmcert_verified.reference.certify",
    "Attack": "mmcert_verified.threat_model",
    "Budget": "mmcert_verified.threat_model",
    "Method": "mmcert_verified.threat_model",
    "Setting": "mmcert_verified.threat_model",
    "Votes": "mmcert_verified.votes",
    "Certifier": "mmcert_verified.pipeline.certifier",
    "Task": "mmcert_verified.pipeline.certifier",
    "SamplingPlan": "mmcert_verified.sampling",
    "Modality": "mmcert_verified.sampling",
    "Ablation": "mmcert_verified.sampling",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
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
