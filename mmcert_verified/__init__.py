"""mmcert-verified: MMCert certificates for multi-modal models, with checked numerics.

Public surface (everything else is internal):

* :func:`certify`, :func:`radius` -- the exact reference certifier (spec clauses T1, R1)
* :class:`Attack`, :class:`Method`, :class:`Setting`, :class:`Budget`, :class:`Votes`
* :class:`MMCertError` and its subclasses
"""

from .errors import EnumerationTooLargeError, InputFileError, InvalidParameterError, MMCertError
from .reference.certify import Certification, RadiusResult, certify, radius
from .threat_model import Attack, Budget, Method, Setting
from .votes import Votes

__version__ = "0.1.0"
#: version of spec/ that this code implements (certificates record it)
SPEC_VERSION = "1.0"

__all__ = [
    "Attack",
    "Budget",
    "Certification",
    "EnumerationTooLargeError",
    "InputFileError",
    "InvalidParameterError",
    "MMCertError",
    "Method",
    "RadiusResult",
    "SPEC_VERSION",
    "Setting",
    "Votes",
    "certify",
    "radius",
]
