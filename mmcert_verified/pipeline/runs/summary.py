"""Summaries of a run file: certified accuracy or certified metrics per budget, and curves (RUN.8).

Works on any run file, merged or not, complete or not (the summary states
how many of the inputs it covers), of either format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .run_file import RunFile, read_run_file

CLASSIFICATION_METRICS = ("certified_accuracy",)
SEGMENTATION_METRICS = ("pixel_accuracy", "f_score", "iou")


def summarize_file(f: RunFile) -> list[dict]:
    """Per budget: certified accuracy (paper Eq. 15) or mean certified metrics (clause SEG.4-6)."""
    budgets = f.header["config"]["budgets"]
    rows = f.records()
    out = []
    for j, b in enumerate(budgets):
        entry: dict[str, Any] = {"r": b["r"], "attack": b["attack"], "inputs": len(rows)}
        if f.header["config"]["task"] == "classification":
            hits = sum(1 for row in rows
                       if row["certified"][j] and row["label"] is not None and row["prediction"] == row["label"])
            entry["certified_accuracy"] = hits / len(rows) if rows else None
        else:
            for key in SEGMENTATION_METRICS:
                vals = [row[key][j] for row in rows if row[key][j] is not None]
                entry[key] = sum(vals) / len(vals) if vals else None
        out.append(entry)
    return out


def summarize(path: str | Path) -> list[dict]:
    """:func:`summarize_file` of the run file at ``path``."""
    return summarize_file(read_run_file(path))


@dataclass(frozen=True)
class Curve:
    """One metric along one budget direction: r = t * direction for t in ``steps``."""

    direction: tuple[int, ...]
    metric: str
    steps: tuple[int, ...]
    values: tuple[float | None, ...]


def curves(summary: list[dict], task: str) -> list[Curve]:
    """Group budgets by direction r / gcd(r); r = 0 lies on every direction (as t = 0)."""
    metrics = CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS
    origin = None
    by_dir: dict[tuple[int, ...], list[tuple[int, dict]]] = {}
    for entry in summary:
        r = tuple(int(x) for x in entry["r"])
        g = math.gcd(*r)
        if g == 0:
            origin = entry
            continue
        by_dir.setdefault(tuple(x // g for x in r), []).append((g, entry))
    out = []
    for d in sorted(by_dir):
        pts = sorted(by_dir[d], key=lambda p: p[0])
        if origin is not None:
            pts = [(0, origin)] + pts
        for m in metrics:
            out.append(Curve(d, m, tuple(t for t, _ in pts), tuple(e[m] for _, e in pts)))
    return out


__all__ = ["CLASSIFICATION_METRICS", "Curve", "SEGMENTATION_METRICS", "curves", "summarize", "summarize_file"]
