"""The fast engine: torch, batched, CPU or CUDA, float64 with carried error bounds (spec clauses F.1-F.5).

Every float decision comes with an error bound; a decision inside its bound
is handed to the exact reference engine, so the fast engine returns the same
answers as the reference (it is never more permissive, and it declines
nothing the reference grants).
"""

from .classify import certify_batch, radius_batch

#: marker that the fast engine is importable (the CLI's default engine)
available = True

__all__ = ["available", "certify_batch", "radius_batch"]
