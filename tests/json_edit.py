"""One JSON edit for the tamper tests: a deep copy of a certificate with one member replaced.

``tests/`` is on ``sys.path`` (its conftest.py's directory), so any test imports this as ``json_edit``.
"""

from __future__ import annotations

import copy


def edited(doc: dict, path, value) -> dict:
    """A deep copy of ``doc`` whose member at ``path`` (keys and list indices) is ``value``."""
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out
