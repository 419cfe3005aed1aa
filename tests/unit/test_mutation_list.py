"""The mutation list (spec/mutations.toml) fits the code and the traceability table (no pytest runs).

spec/mutation_check.py applies each mutation in a scratch copy and runs the tests the clause's row of
spec/traceability.md cites; these checks make sure it can: every clause row has a mutation, every
mutation names an existing row and a snippet that occurs exactly once in its file, and every test a
row cites exists.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_checker():
    spec = importlib.util.spec_from_file_location("mutation_check", ROOT / "spec" / "mutation_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutation_check", module)
    spec.loader.exec_module(module)
    return module


mc = _load_checker()
ROWS = mc.parse_traceability((ROOT / "spec" / "traceability.md").read_text(encoding="utf-8"))
MUTATIONS = mc.load_mutations(ROOT / "spec" / "mutations.toml")


def test_table_parses_into_rows_with_tests():
    # the table has one row per clause group (31 when this test was written; more may be added)
    assert len(ROWS) >= 31
    assert len({r.label for r in ROWS}) == len(ROWS), "clause labels (first cells) must be unique"
    empty = [r.label for r in ROWS if not r.tests]
    assert not empty, f"clause rows citing no tests: {empty}"


def test_every_clause_row_has_a_mutation():
    uncovered = mc.uncovered_rows(ROWS, MUTATIONS)
    assert not uncovered, f"clause rows without a mutation in spec/mutations.toml: {uncovered}"


def test_every_mutation_belongs_to_a_row():
    orphans = [(m.clause, m.description) for m in MUTATIONS if mc.row_for(m, ROWS) is None]
    assert not orphans, f"mutations naming no traceability row: {orphans}"


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: f"{m.clause}:{m.description[:40]}")
def test_snippet_occurs_exactly_once(mutation):
    assert mc.snippet_problem(mutation, ROOT) is None, mc.snippet_problem(mutation, ROOT)


def test_sanity_mutation_applies():
    m = mc.Mutation(**{k: v for k, v in mc.SANITY.items() if k != "tests"})
    assert mc.snippet_problem(m, ROOT) is None


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        names |= {f"{cls.name}::{f.name}" for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return names


def test_cited_tests_exist():
    missing = []
    for row in ROWS:
        for cite in row.tests:
            path, _, name = cite.partition("::")
            target = ROOT / path
            if not target.exists():
                missing.append(f"{row.key}: {cite} (no such path)")
            elif name and name.split("[")[0] not in _defined_tests(target):
                missing.append(f"{row.key}: {cite} (no such test)")
    assert not missing, "traceability.md cites tests that do not exist:\n" + "\n".join(missing)


def test_parser_reads_continuations_and_directories():
    # a row cell in the table's style: a file, then "::name" continuations of that file, a directory
    text = (
        "| clause | functions | tests |\n|---|---|---|\n"
        "| X1 thing | `f` | `tests/a.py::t1`, `::t2` (note), `tests/b/`, `tests/c.py` |\n"
    )
    (row,) = mc.parse_traceability(text)
    assert row.key == "X1" and row.label == "X1 thing"
    assert row.tests == ("tests/a.py::t1", "tests/a.py::t2", "tests/b/", "tests/c.py")


def test_judge_reads_pytest_outcomes():
    assert mc.judge(0, "3 passed")[0] == "survived"
    out = "F\nFAILED tests/unit/x.py::test_y - AssertionError\n1 failed in 0.1s"
    assert mc.judge(1, out) == ("killed", "tests/unit/x.py::test_y")
    spaced = "FAILED tests/e2e/t.py::test_z[env4-None-both torchrun and SLURM] - AssertionError: x\n1 failed"
    assert mc.judge(1, spaced) == ("killed", "tests/e2e/t.py::test_z[env4-None-both torchrun and SLURM]")
    assert mc.judge(2, "ERROR tests/unit/x.py - ImportError")[0] == "broken"  # the mutant does not import
    assert mc.judge(99, "MUTATION-GUARD: mmcert_verified imported from /elsewhere")[0] == "broken"
    assert mc.judge(None, "")[0] == "killed"  # a hang


def test_a_shared_clause_id_names_no_row():
    # two rows with one clause id (first word): a mutation must name its row by the whole label, and a
    # mutation naming only the shared id belongs to neither row (so it covers neither)
    text = (
        "| clause | functions | tests |\n|---|---|---|\n"
        "| X1 core | `f` | `tests/a.py` |\n"
        "| X1 CLI | `g` | `tests/b.py` |\n"
        "| Y2 other | `h` | `tests/c.py` |\n"
    )
    rows = mc.parse_traceability(text)
    by_id = mc.Mutation("X1", "f.py", "a", "b", "names the shared id")
    by_label = mc.Mutation("X1 CLI", "g.py", "a", "b", "names the CLI row")
    by_key = mc.Mutation("Y2", "h.py", "a", "b", "names a unique id")
    assert mc.row_for(by_id, rows) is None
    assert mc.row_for(by_label, rows) is rows[1] and mc.row_for(by_key, rows) is rows[2]
    assert mc.uncovered_rows(rows, [by_id, by_label, by_key]) == ["X1 core"]


def test_sample_is_fixed_by_seed_and_stable_when_mutations_are_added():
    a = mc.sample(MUTATIONS, 10, 1)
    assert len(a) == 10 and a == mc.sample(list(reversed(MUTATIONS)), 10, 1)[::-1] == mc.sample(MUTATIONS, 10, 1)
    assert a != mc.sample(MUTATIONS, 10, 2)
    extra = mc.Mutation("T1.4", "x.py", "a", "b", "a new mutation")
    b = mc.sample(MUTATIONS + [extra], 10, 1)
    # at most one of the chosen mutations changes: the new one, if it ranks among the 10 smallest
    assert len(set(map(id, a)) - set(map(id, b))) <= 1
    assert (extra in b) == (len(set(map(id, a)) - set(map(id, b))) == 1)
