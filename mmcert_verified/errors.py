"""Exceptions raised by mmcert-verified.

Every error a user can cause (a bad parameter, a malformed file, a tampered
certificate) is an :class:`MMCertError`; the CLI turns it into one line on
stderr and exit code 2.  Anything else escaping the library is a bug.
"""


class MMCertError(Exception):
    """Base class of every error a caller can provoke with bad input."""


class InvalidParameterError(MMCertError, ValueError):
    """A parameter of the threat model, the votes or the confidence level is invalid."""


class InputFileError(MMCertError):
    """A file named by the user cannot be read or does not hold what it should."""


class EnumerationTooLargeError(MMCertError):
    """An exhaustive enumeration would exceed the stated size limit."""


class EngineDisagreementError(Exception):
    """The fast engine's answer differs from the exact reference's (spec F.1 says it cannot): a bug.

    Not an :class:`MMCertError` -- no input of the caller's provokes it.  The CLI reports it on one line
    with exit code 3 and prints no certificate.
    """
