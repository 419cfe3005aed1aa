"""PGD against a feature-space-smoothed encoder inside the radii FS certifies (spec ATK.11-ATK.12).

Feature-space smoothing (``spec/feature_smoothing.md``) certifies, for the clean input x and every x'
with ||x' - x||_2 <= eps, ``<f(x), F(x')> >= L`` (FS.2) and ``cos(F(x'), f(x)) >= L`` when ``L >= 0``
(FS.3), from a lower confidence bound on the score S(x) (FS.5/FS.6).  This module tries to break that:

* :class:`SmoothedCosinePGD` minimises ``cos(F~(x'), f(x))`` (target ``COSINE``) or ``<f(x), F~(x')>``
  (target ``INNER``; the cosine of a half-space encoder is +-1 and has no gradient) over the l2 ball by
  PGD (ATK.1), where
  ``F~`` is a differentiable smoothed feature: for a torch encoder the Monte-Carlo mean of the
  normalised features of ``x' + delta_j`` over ``samples`` noise draws, fresh at every step
  (:func:`eot_smoothed`, expectation over transformation); for a closed-form oracle the exact ``F``.
* :class:`FSHarness` (Monte Carlo): certifies x with the package's :meth:`SmoothedEncoder.certify`,
  attacks at the certified radii (and/or given eps), then on the attacked x' draws fresh noise and
  bounds, at confidence ``1 - beta`` in all, ``<f(x), F(x')>`` from above and ``cos(F(x'), f(x))`` from
  above (ATK.12); a **violation** is an upper confidence bound below the certified bound.
* :class:`ExactFSHarness` (closed-form oracles, :mod:`mmcert_verified.feature_smoothing.oracles`): the
  attacked point is pulled exactly inside the ball (:func:`inside_ball`), the inner product and cosine
  at it are enclosed in ball arithmetic, and a violation is a ball entirely below the bound -- a proof.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np
import torch

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.feature_smoothing import fcsb, score_lower, score_upper, statistics_from_cosines
from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder
from mmcert_verified.feature_smoothing.estimation import ScoreBound
from mmcert_verified.feature_smoothing.gaussian import to_arb, working_precision

from .pgd import PGD, Norm

#: (score_lower, sigma, eps) -> object with ``inner_lower`` and ``cosine_lower`` (the package's ``fcsb``)
BoundCertifier = Callable[[Fraction, Fraction, Fraction], object]
#: x' (B, *shape) -> (B, m) smoothed features, differentiable
SmoothedFn = Callable[[torch.Tensor], torch.Tensor]


def normalised(encoder: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``encoder(x) / ||encoder(x)||`` in float64 through autograd (the base encoder f of D15)."""
    out = encoder(x).to(torch.float64)
    return out / out.norm(dim=-1, keepdim=True).clamp_min(1e-300)


def eot_smoothed(encoder: Callable[[torch.Tensor], torch.Tensor], sigma: float, samples: int,
                 generator: torch.Generator) -> SmoothedFn:
    """x' (B, *shape) -> (B, m): the mean over ``samples`` fresh N(0, sigma^2 I) draws of f(x' + delta),
    differentiable in x' (new noise at every call; an estimate of F, no guarantee)."""

    def smoothed(xp: torch.Tensor) -> torch.Tensor:
        noise = torch.randn((samples, *xp.shape), generator=generator, device=xp.device, dtype=xp.dtype) * sigma
        feats = normalised(encoder, (xp.unsqueeze(0) + noise).reshape(samples * xp.shape[0], *xp.shape[1:]))
        return feats.reshape(samples, xp.shape[0], -1).mean(0)

    return smoothed


class Target(str, enum.Enum):
    """What the FS attack minimises."""

    COSINE = "cosine"  # cos(F(x'), f(x)), FS.3
    INNER = "inner"  # <f(x), F(x')>, FS.2


@dataclass(frozen=True)
class SmoothedCosinePGD:
    """l2 PGD (ATK.1) minimising cos(F~(x'), f(x)) or <f(x), F~(x')> (``target``); step ``step * eps``,
    ``steps`` steps, random start, no value box (FS certifies the whole l2 ball).  Deterministic for a seed."""

    steps: int = 20
    step: float = 0.25
    seed: int = 0
    target: Target = Target.COSINE

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Target(self.target))

    def __call__(self, smoothed: SmoothedFn, x: torch.Tensor, clean_feature: torch.Tensor, eps: float) -> torch.Tensor:
        """Attack one input ``x`` (no batch dimension); returns x' with ||x' - x||_2 <= eps (up to rounding)."""
        target = clean_feature.to(torch.float64).reshape(1, -1)

        def objective(xp: torch.Tensor) -> torch.Tensor:
            f = smoothed(xp).to(torch.float64)
            inner = (f * target).sum(-1)
            return -inner if self.target is Target.INNER else -inner / f.norm(dim=-1).clamp_min(1e-300)

        pgd = PGD(eps=float(eps), alpha=self.step * float(eps), steps=self.steps, norm=Norm.L2, seed=self.seed,
                  low=None, high=None)
        return pgd(x.unsqueeze(0), objective)[0]


def inside_ball(x: torch.Tensor, xp: torch.Tensor, eps: Fraction) -> np.ndarray:
    """``xp`` moved towards ``x`` until ||xp - x||_2^2 <= eps^2 holds exactly for the values in ``x``'s
    dtype (compared as rationals); returns that point as a numpy array of ``x``'s dtype.  PGD's
    projection is exact only up to rounding (ATK.1); the certificate speaks of the point evaluated."""
    dtype = np.float32 if x.dtype == torch.float32 else np.float64
    a = np.asarray(x.detach().cpu(), dtype).reshape(-1)
    d = np.asarray(xp.detach().cpu(), np.float64).reshape(-1) - a.astype(np.float64)
    eps2 = Fraction(eps) ** 2
    shrink = 1 - 4 * float(np.finfo(dtype).eps)
    for _ in range(200):
        cand = (a.astype(np.float64) + d).astype(dtype)
        if sum((Fraction(float(p)) - Fraction(float(q))) ** 2 for p, q in zip(cand, a)) <= eps2:
            return cand.reshape(tuple(x.shape))
        d = d * shrink
    return a.copy().reshape(tuple(x.shape))  # the clean point is always inside


@dataclass(frozen=True)
class FSFinding:
    """One (input, eps): the certificate, the attacked estimate and its confidence bounds, the verdict.

    ``inner_upper`` / ``cosine_upper``: upper confidence bounds on <f(x), F(x')> and cos(F(x'), f(x)) at the
    attacked x' (exact mode: the upper ends of the enclosing balls); ``estimate``: the point estimate of
    the cosine (exact mode: the ball's midpoint)."""

    index: int
    eps: Fraction
    target: Target
    score_lower: Fraction
    inner_bound: Fraction
    cosine_bound: Fraction
    estimate: float
    inner_estimate: float
    inner_upper: float
    cosine_upper: float
    violation: bool

    def to_json(self) -> dict:
        return {"index": self.index, "eps": str(self.eps), "target": self.target.value,
                "score_lower": float(self.score_lower), "inner_bound": float(self.inner_bound),
                "cosine_bound": float(self.cosine_bound), "estimate": self.estimate,
                "inner_estimate": self.inner_estimate, "inner_upper": self.inner_upper,
                "cosine_upper": self.cosine_upper, "violation": self.violation}


@dataclass(frozen=True)
class FSReport:
    findings: tuple[FSFinding, ...]

    @property
    def violations(self) -> tuple[FSFinding, ...]:
        return tuple(f for f in self.findings if f.violation)


def _radii(low: Fraction, sigma: Fraction, taus: Sequence, eps: Sequence) -> list[Fraction]:
    from mmcert_verified.feature_smoothing import radius

    out = []
    for tau in taus:
        r = radius(low, sigma, Fraction(tau))
        if r.value is not None and r.value > 0:
            out.append(r.value)
    out.extend(Fraction(e) for e in eps)
    return out


@dataclass(frozen=True)
class FSHarness:
    """Monte Carlo falsification of FS on a :class:`SmoothedEncoder` (ATK.12).

    Certificate: ``n_certify`` cosines from stream (seed, i), score bound ``bound`` at level ``alpha``.
    Attack: :class:`SmoothedCosinePGD` on :func:`eot_smoothed` with ``attack_samples`` draws per step
    (its own generator, seeded ``seed + 1``).  Test: ``n_direction`` draws from stream (seed + 2, i) fix a
    unit direction v (the normalised mean feature), ``n_eval`` draws from stream (seed + 3, i) give
    c_j = <f(x), f(x' + delta_j)> and d_j = <v, f(x' + delta_j)>; at level beta/2 each, U_inner = upper
    bound on E c (= <f(x), F(x')>) and L_v = lower bound on E d (= <v, F(x')> <= ||F(x')||), by the
    package's score bounds on (1 + c)/2 and (1 + d)/2.  cos(F(x'), f(x)) <= U_cos = U_inner if
    U_inner < 0, else min(1, U_inner / L_v) if L_v > 0, else 1.  Violation: U_inner < inner bound, or a
    cosine bound above -1 is claimed and U_cos < it.  If the certificate is true, a violation is called
    with probability at most beta per attacked point (Bonferroni over the two bounds); each (input, eps)
    is attacked once per target (inner product, cosine)."""

    encoder: SmoothedEncoder
    n_certify: int = 1000
    alpha: str = "0.001"
    bound: ScoreBound = ScoreBound.BERNSTEIN
    n_direction: int = 500
    n_eval: int = 2000
    beta: str = "0.001"
    attack_samples: int = 16
    seed: int = 0

    def run(self, inputs: Sequence[torch.Tensor], attack: SmoothedCosinePGD, taus: Sequence = (Fraction(1, 2), 0),
            eps: Sequence = (), certifier: BoundCertifier = fcsb, indices: Sequence[int] | None = None,
            targets: Sequence[Target] = (Target.INNER, Target.COSINE)) -> FSReport:
        """Attack every input at the certified radius for each ``tau`` (where one exists) and at each ``eps``,
        once per target (``attack`` with its target replaced)."""
        beta = Fraction(self.beta)
        if not 0 < beta < 1:
            raise InvalidParameterError(f"beta must lie in (0, 1), got {self.beta}")
        enc, sigma = self.encoder, Fraction(self.encoder.sigma)
        bound = ScoreBound(self.bound)
        findings = []
        for index, x in zip(indices if indices is not None else range(len(inputs)), inputs):
            x = torch.as_tensor(x).to(enc.device)
            stats = statistics_from_cosines(enc.sample_cosines(x, self.n_certify, self.seed, index))
            low = score_lower(stats, Fraction(self.alpha), bound)
            clean = enc.features(x.unsqueeze(0))[0]
            gen = torch.Generator(device=enc.device).manual_seed(self.seed + 1)
            smoothed = eot_smoothed(enc.encoder, enc.sigma, self.attack_samples, gen)
            for e, t in [(e, Target(t)) for e in _radii(low, sigma, taus, eps) for t in targets]:
                cert = certifier(low, sigma, e)
                with torch.enable_grad():
                    xp = replace(attack, target=t)(smoothed, x, clean, float(e))
                xp = torch.as_tensor(inside_ball(x, xp, e), device=enc.device)
                v = enc.smoothed_feature(xp, self.n_direction, self.seed + 2, index)
                v = v / v.norm().clamp_min(1e-300)
                cs, ds, total = [], [], 0
                for f in enc.noisy_features(xp, self.n_eval, self.seed + 3, index):
                    cs.append(torch.clamp(f @ clean, -1.0, 1.0).cpu())
                    ds.append(torch.clamp(f @ v, -1.0, 1.0).cpu())
                    total = total + f.sum(0)
                c, d = torch.cat(cs).numpy(), torch.cat(ds).numpy()
                u_inner = 2 * score_upper(statistics_from_cosines(c), beta / 2, bound) - 1
                l_v = 2 * score_lower(statistics_from_cosines(d), beta / 2, bound) - 1
                u_cos = u_inner if u_inner < 0 else (min(Fraction(1), u_inner / l_v) if l_v > 0 else Fraction(1))
                mean_c, norm = float(np.mean(c)), float((total / self.n_eval).norm())
                violation = u_inner < cert.inner_lower or (cert.cosine_lower > -1 and u_cos < cert.cosine_lower)
                findings.append(FSFinding(index, e, t, low, cert.inner_lower, cert.cosine_lower, mean_c / norm,
                                          mean_c, float(u_inner), float(u_cos), bool(violation)))
        return FSReport(tuple(findings))


@dataclass(frozen=True)
class ExactFSHarness:
    """Closed-form oracles: exact S lower bound (``oracle.score_lower``), PGD on the exact F, the attacked
    point pulled exactly into the ball, and enclosures of <f(x), F(x')> and cos(F(x'), f(x)); a violation is
    an enclosure entirely below the certified bound (no statistics)."""

    oracle: object  # a mmcert_verified.feature_smoothing.oracles.ClosedFormEncoder

    def run(self, inputs: Sequence[torch.Tensor], attack: SmoothedCosinePGD, taus: Sequence = (Fraction(1, 2), 0),
            eps: Sequence = (), certifier: BoundCertifier = fcsb,
            targets: Sequence[Target] = (Target.INNER, Target.COSINE)) -> FSReport:
        o = self.oracle
        sigma = Fraction(o.sigma)
        findings = []
        for index, x in enumerate(inputs):
            x = torch.as_tensor(x, dtype=torch.float64)
            low = o.score_lower(x.numpy())
            clean = o.feature(x)
            for e, t in [(e, Target(t)) for e in _radii(low, sigma, taus, eps) for t in targets]:
                cert = certifier(low, sigma, e)
                with torch.enable_grad():
                    xp = replace(attack, target=t)(o.smoothed, x, clean, float(e))
                xp = inside_ball(x, xp, e).reshape(-1)
                with working_precision(160):
                    inner, cos = o.inner_ball(x.numpy(), xp), o.cosine_ball(x.numpy(), xp)
                    violation = bool(inner < to_arb(cert.inner_lower)) or (
                        cert.cosine_lower > -1 and bool(cos < to_arb(cert.cosine_lower)))
                    findings.append(FSFinding(index, e, t, low, cert.inner_lower, cert.cosine_lower, float(cos.mid()),
                                              float(inner.mid()), float(inner.upper()), float(cos.upper()), violation))
        return FSReport(tuple(findings))


__all__ = ["ExactFSHarness", "FSFinding", "FSHarness", "FSReport", "SmoothedCosinePGD", "Target", "eot_smoothed",
           "inside_ball", "normalised"]
