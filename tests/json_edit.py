"""JSON edits for the tamper and garbage tests: a certificate's leaves, and a deep copy with one member replaced.

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


def leaves(node, path=()):
    """Every leaf of the JSON value ``node`` as (path, value), depth first in member and index order; a path
    is the keys and list indices from ``node`` down (as :func:`edited` takes it).  Empty objects and arrays
    have no leaves."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leaves(value, path + (i,))
    else:
        yield path, node
