"""``mmcert fs certify`` and ``mmcert fs score``: feature-space smoothing (issue #12 contract).

* ``mmcert fs certify --score-lower S --sigma SIGMA --eps E1[,E2...] [--tau T] --json`` prints
  ``{"score_lower", "sigma", "tau", "bounds": [{"eps", "inner_lower", "cosine_lower"}, ...],
  "radius"}`` (clauses FS.2-FS.4).  ``radius`` is the largest eps with cosine_lower >= tau, null when
  there is none, and the string ``"inf"`` when S = 1 (every eps).
* ``mmcert fs score --cosines FILE.npy --alpha A --bound hoeffding|bernstein --json`` prints
  ``{"score_lower", "N", "bound", "alpha", "mean"}`` (clauses FS.5-FS.6; ``--bound betting``: FS.12,
  from the cosines in the order they were drawn).  With
  ``--out FILE --sigma SIGMA --eps E1[,E2...] [--tau T]`` it also writes an audit-ready certificate
  (clause FS.10: the exact statistics of the cosines, the score bound, the FCSB per eps and the
  radius); stdout is unchanged, and an existing FILE is never overwritten (exit 2).

Every decimal is a string rounded to the safe side (down) at 10^-30, so within 1e-25 of the exact
value.  Numbers are read exactly as written ("0.1" = 1/10).  Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputFileError, InvalidParameterError
from ..feature_smoothing.bound import fcsb, radius
from ..feature_smoothing.estimation import (
    BETTING,
    ScoreBound,
    score_lower,
    score_lower_betting,
    statistics_from_cosines,
)
from ..feature_smoothing.gaussian import DECIMALS, fixed_decimal_string
from .arrays import load_npy

#: a plain decimal with an exponent of at most 4 digits, or p/q (bounded, so parsing cannot blow up)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,4})?$|^[+-]?\d{1,200}/\d{1,200}$")
_MAX_NUMBER_CHARS = 400
#: largest .npy file read (bytes): 10^7 float64 cosines
MAX_COSINES_BYTES = 80 * 1024 * 1024 + 4096


def exact_number(text: str, flag: str) -> Fraction:
    """A decimal ('0.25', '1e-3') or 'p/q' read exactly; NaN, inf and other text are rejected."""
    s = str(text).strip()
    if len(s) > _MAX_NUMBER_CHARS or not _NUMBER.match(s):
        raise InvalidParameterError(f"{flag}: {text!r} is not a finite decimal number")
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise InvalidParameterError(f"{flag}: {text!r} is not a finite number") from None


def register(sub) -> None:
    fs = sub.add_parser("fs", help="feature-space smoothing: certified cosine bounds for encoders")
    verbs = fs.add_subparsers(dest="fs_verb", metavar="FS_VERB")
    verbs.required = True

    p = verbs.add_parser("certify", help="FCSB (inner-product and cosine lower bounds) and radius from S")
    p.add_argument("--score-lower", required=True, help="lower bound S on the Gaussian robustness score, in (0, 1]")
    p.add_argument("--sigma", required=True, help="noise level sigma > 0")
    p.add_argument("--eps", required=True, help="l2 budgets E1,E2,... (each >= 0)")
    p.add_argument("--tau", default="0.5", help="cosine threshold of the radius, in [0, 1] (default 0.5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_certify)

    p = verbs.add_parser("score", help="lower confidence bound on S from sampled cosines")
    p.add_argument("--cosines", required=True, help="1-D float .npy of cos(f(x + delta_j), f(x))")
    p.add_argument("--alpha", required=True, help="confidence level alpha in (0, 1)")
    p.add_argument("--bound", choices=[b.value for b in ScoreBound] + [BETTING], default=ScoreBound.HOEFFDING.value,
                   help="hoeffding (FS.5), bernstein (FS.6) or betting (FS.12: the cosines in the order drawn)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", metavar="FILE", help="also write a feature-smoothing certificate (needs --sigma, --eps)")
    p.add_argument("--sigma", help="with --out: the noise level sigma > 0 the cosines were sampled at")
    p.add_argument("--eps", help="with --out: l2 budgets E1,E2,... (each >= 0) to certify")
    p.add_argument("--tau", help="with --out: cosine threshold of the radius, in [0, 1] (default 0.5)")
    p.set_defaults(handler=run_score)


def _eps_list(text: str) -> list[tuple[str, Fraction]]:
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(s == "" for s in items):
        raise InvalidParameterError(f"--eps needs a comma-separated list of numbers, got {text!r}")
    out = []
    for s in items:
        value = exact_number(s, "--eps")
        if value < 0:
            raise InvalidParameterError(f"--eps: {s} is negative")
        out.append((s, value))
    return out


def _smoothing_parameters(sigma_text: str, tau_text: str, eps_text: str):
    """(sigma > 0, tau in [0, 1], [(eps text, eps value), ...]) parsed exactly; bad input raises."""
    sigma = exact_number(sigma_text, "--sigma")
    if sigma <= 0:
        raise InvalidParameterError(f"--sigma must be positive, got {sigma_text}")
    tau = exact_number(tau_text, "--tau")
    if not 0 <= tau <= 1:
        raise InvalidParameterError(f"--tau must lie in [0, 1], got {tau_text}")
    return sigma, tau, _eps_list(eps_text)


def certify_json(score_text: str, sigma_text: str, tau_text: str, eps_text: str) -> dict:
    """The JSON object of ``mmcert fs certify`` (validates every input first)."""
    score = exact_number(score_text, "--score-lower")
    if not 0 < score <= 1:
        raise InvalidParameterError(f"--score-lower must lie in (0, 1], got {score_text}")
    sigma, tau, eps = _smoothing_parameters(sigma_text, tau_text, eps_text)
    bounds = []
    for text, value in eps:
        b = fcsb(score, sigma, value)
        bounds.append(
            {
                "eps": text,
                "inner_lower": fixed_decimal_string(b.inner_lower),
                "cosine_lower": fixed_decimal_string(b.cosine_lower),
            }
        )
    r = radius(score, sigma, tau)
    if r.unbounded:
        rad = "inf"
    elif r.value is None:
        rad = None
    else:
        rad = fixed_decimal_string(r.value)
    return {
        "score_lower": str(score_text).strip(),
        "sigma": str(sigma_text).strip(),
        "tau": str(tau_text).strip(),
        "bounds": bounds,
        "radius": rad,
    }


def run_certify(args) -> int:
    doc = certify_json(args.score_lower, args.sigma, args.tau, args.eps)
    if args.json:
        print(json.dumps(doc))
    else:
        print(f"S >= {doc['score_lower']}, sigma = {doc['sigma']}")
        for b in doc["bounds"]:
            print(f"  eps {b['eps']}: <f(x), F(x')> >= {b['inner_lower']}, cos >= {b['cosine_lower']}")
        print(f"  radius (cos >= {doc['tau']}): {doc['radius']}")
    return 0


def score_json(cosines: np.ndarray, alpha_text: str, bound: str) -> dict:
    """The JSON object of ``mmcert fs score``."""
    alpha = exact_number(alpha_text, "--alpha")
    if not 0 < alpha < 1:
        raise InvalidParameterError(f"--alpha must lie strictly between 0 and 1, got {alpha_text}")
    stats = statistics_from_cosines(cosines)
    if bound == BETTING:
        method_name = BETTING
        low = score_lower_betting(cosines, alpha)
    else:
        method_name = ScoreBound(bound).value
        low = score_lower(stats, alpha, ScoreBound(bound))
    scale = 10**DECIMALS
    mean = Fraction(math.floor(stats.mean * scale), scale)  # the exact mean, rounded down
    return {
        "score_lower": fixed_decimal_string(low),
        "N": stats.n,
        "bound": method_name,
        "alpha": str(alpha_text).strip(),
        "mean": fixed_decimal_string(mean),
    }


def score_certificate(cosines: np.ndarray, alpha_text: str, bound: str, sigma_text: str, eps_text: str,
                      tau_text: str) -> dict:
    """The sealed certificate of ``mmcert fs score --out`` (clause FS.10); validates every input."""
    from ..feature_smoothing.certificate import fs_certificate

    alpha = exact_number(alpha_text, "--alpha")
    if not 0 < alpha < 1:
        raise InvalidParameterError(f"--alpha must lie strictly between 0 and 1, got {alpha_text}")
    sigma, tau, eps = _smoothing_parameters(sigma_text, tau_text, eps_text)
    return fs_certificate(
        statistics_from_cosines(cosines), alpha=alpha, bound=bound, sigma=sigma, eps=[v for _, v in eps],
        tau=tau, alpha_text=str(alpha_text), sigma_text=str(sigma_text), eps_texts=[t for t, _ in eps],
        tau_text=str(tau_text),
    )


def run_score(args) -> int:
    if args.out is None and args.sigma is not None:
        raise InvalidParameterError("--sigma is only used with --out (write a certificate)")
    if args.out is None and args.eps is not None:
        raise InvalidParameterError("--eps is only used with --out (write a certificate)")
    if args.out is None and args.tau is not None:
        raise InvalidParameterError("--tau is only used with --out (write a certificate)")
    if args.out is not None:
        if args.sigma is None or args.eps is None:
            raise InvalidParameterError("--out needs --sigma and --eps (what the certificate certifies)")
        if args.bound == BETTING:
            raise InvalidParameterError(
                "--out: certificates record the statistics (N, sum h, sum h^2), which do not determine the "
                "betting bound; use --bound hoeffding or bernstein"
            )
        out = Path(args.out)
        if out.exists() or out.is_symlink():
            raise InputFileError(f"{out} already exists; refusing to overwrite it")
    cosines = load_npy(args.cosines, "--cosines", MAX_COSINES_BYTES)
    doc = score_json(cosines, args.alpha, args.bound)
    if args.out is not None:
        from ..feature_smoothing.certificate import write_fs_certificate

        tau = "0.5" if args.tau is None else args.tau
        cert = score_certificate(cosines, args.alpha, args.bound, args.sigma, args.eps, tau)
        if cert["claims"]["score_lower"] != doc["score_lower"]:  # one computation, two reports
            raise InvalidParameterError("internal: the certificate's score bound differs from the printed one")
        write_fs_certificate(cert, args.out)
    if args.json:
        print(json.dumps(doc))
    else:
        print(f"S >= {doc['score_lower']} ({doc['bound']}, alpha = {doc['alpha']}, N = {doc['N']})")
        if args.out is not None:
            print(f"certificate written to {args.out} (check it with: mmcert audit {args.out})")
    return 0
