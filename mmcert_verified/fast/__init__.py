"""The fast engine: torch, batched, CPU or CUDA, float64 with carried error bounds (spec clauses F.1-F.5).

Every float decision comes with an error bound; a decision inside its bound
is handed to the exact reference engine, so the fast engine returns the same
answers as the reference (it is never more permissive, and it declines
nothing the reference grants).
"""

#: marker that the fast engine is importable (the CLI's default engine)
available = True

__all__ = ["available", "certify_batch", "radius_batch"]


def __getattr__(name: str):
    """certify_batch / radius_batch on first use: they need torch (the one-input path in .single does not)."""
    if name in ("certify_batch", "radius_batch"):
        from . import classify

        return getattr(classify, name)
    raise AttributeError(f"module 'mmcert_verified.fast' has no attribute {name!r}")
