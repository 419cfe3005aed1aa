"""TOML text of run configs for the tests (one writer instead of a copy per test file).

``tests/`` is on ``sys.path`` (its conftest.py's directory), so any test imports this as ``config_text``.
"""

from __future__ import annotations

import json
from pathlib import Path


def toml_lines(**members) -> str:
    """One ``key = value`` line per member, in the order given, for a table's body: numbers, booleans and
    (nested) lists of them as JSON writes them (``[3, 5]``, ``0.01``, ``true``), strings double-quoted
    (``"0.05"``) -- TOML reads each back as the value given."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in members.items())


def modality(name: str, shape, element_dims, channel_dim: int = 0) -> str:
    """One ``[[modalities]]`` table."""
    return (f'[[modalities]]\nname = "{name}"\nshape = {list(shape)}\n'
            f"element_dims = {list(element_dims)}\nchannel_dim = {channel_dim}\n")


def run_config(task: str, classes: int, model: str, data: str, data_kwargs: str, modalities, certify: str,
               budgets: str) -> str:
    """A whole run config: ``model``/``data`` are factory strings, ``data_kwargs`` the inline table's body
    (``count = 3``), ``modalities`` the :func:`modality` tables, ``certify``/``budgets`` those tables' bodies."""
    return (f'\ntask = "{task}"\nclasses = {classes}\n[model]\nfactory = "{model}"\n[data]\nfactory = "{data}"\n'
            f"kwargs = {{ {data_kwargs} }}\n" + "".join(modalities)
            + f"[certify]\n{certify.strip()}\n[budgets]\n{budgets.strip()}\n")


def write_config(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    """``text`` written to ``tmp_path / name``; returns the path."""
    path = tmp_path / name
    path.write_text(text)
    return path
