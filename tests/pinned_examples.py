"""Property tests with pinned hand cases: ``@given(strategy)`` plus one ``@example`` per case, as one decorator.

``tests/`` is on ``sys.path`` (its conftest.py's directory), so any test imports this as ``pinned_examples``.
"""

from __future__ import annotations

from hypothesis import example, given


def given_with_examples(strategy, *cases):
    """The decorator ``@given(strategy)`` over ``@example(case)`` for each of ``cases``, in the order given:
    the test gets one argument, every case runs on every run (in that order) before the generated ones."""

    def decorate(test):
        for case in reversed(cases):  # as stacked decorators apply: the one nearest the function first
            test = example(case)(test)
        return given(strategy)(test)

    return decorate
