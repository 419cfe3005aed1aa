"""Mutation check: every clause row of spec/traceability.md cites tests that can fail.

For each mutation in ``spec/mutations.toml`` (clause, file, an exact original snippet, its
replacement, a one-line description) this script

1. copies the repository (git-tracked and untracked-but-not-ignored files; no ``.git``, ``.venv``)
   into a scratch directory and applies the mutation there (the snippet must occur exactly once in
   the file, else the mutation is reported *broken*);
2. runs the tests that the clause's row of ``spec/traceability.md`` cites, from the scratch
   directory, with the scratch directory first on ``PYTHONPATH`` (the package is installed editable
   from the main tree; a guard plugin stops the run unless ``mmcert_verified`` and
   ``reference_models`` are imported from the scratch copy), as
   ``python -m pytest -x -q -p no:cacheprovider --hypothesis-seed=0 -m "not slow"`` with
   ``HYPOTHESIS_PROFILE=dev`` without the shrink phase (``--slow`` also runs tests marked slow);
3. records *killed* (a cited test failed, and passes on an unmutated copy: the first one is named),
   *survived* (all passed), or
   *broken* (the snippet is missing or ambiguous, the mutated module does not import, or the run
   could not start).

Before the mutations, a sanity mutation (Theorem 1's decision always certifies) must be killed: it
proves that the scratch copy's code is what the tests import.

The exit code is 0 only when every mutation selected is killed.  Usage, from the repository root:

    python spec/mutation_check.py                      # every mutation
    python spec/mutation_check.py --clause T1.4        # the rows whose clause matches
    python spec/mutation_check.py --sample 24 --seed 1 # 24 mutations chosen with seed 1 (CI)
    python spec/mutation_check.py -j 2                 # two parallel workers
    python spec/mutation_check.py --list               # print the mutations, run nothing
    python spec/mutation_check.py --baseline           # run each row's cited tests unmutated
    python spec/mutation_check.py --logs /tmp/mutants  # keep each mutant's pytest output
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACEABILITY = ROOT / "spec" / "traceability.md"
MUTATIONS = ROOT / "spec" / "mutations.toml"
#: seconds one pytest run of a mutation may take before it is stopped (a hang counts as killed)
RUN_TIMEOUT = 600
GUARD_MODULE = "_mutation_guard"
GUARD_SOURCE = '''\
"""Loaded by spec/mutation_check.py with -p: stop unless the package comes from the scratch copy."""
import os

import pytest

_SCRATCH = os.path.realpath(os.environ["MUTATION_SCRATCH"])


def pytest_configure(config):
    import mmcert_verified
    import reference_models
    from hypothesis import Phase, settings

    # a failing Hypothesis test is reported without shrinking (tests/conftest.py, an initial conftest, has
    # loaded its profile by now; the test modules, whose @settings copy it, are imported later): shrinking
    # never changes whether a test fails, only how long it takes (minutes on the differential tests)
    current = settings.default
    settings.register_profile("mutation-check", parent=current,
                              phases=tuple(p for p in current.phases if p is not Phase.shrink))
    settings.load_profile("mutation-check")

    for mod in (mmcert_verified, reference_models):
        where = os.path.realpath(mod.__file__)
        if not where.startswith(_SCRATCH + os.sep):
            pytest.exit(f"MUTATION-GUARD: {mod.__name__} imported from {where}, not the scratch copy", returncode=99)
'''
#: the sanity mutation: must be killed, or the scratch copy is not what the tests import
SANITY = dict(
    clause="T1.4",
    file="mmcert_verified/reference/theorem1.py",
    original="return Theorem1Decision(a - b > thr, a, b, thr, masses)",
    replacement="return Theorem1Decision(True, a, b, thr, masses)",
    description="sanity: Theorem 1 always certifies",
    tests=("tests/unit/test_theorem1_cases.py::test_strict_boundary_modify_n10_k2_r1",),
)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ClauseRow:
    """One row of spec/traceability.md: its clause label and the tests it cites."""

    label: str  # the first cell, e.g. "T1.4 integer decision"
    tests: tuple[str, ...]  # pytest arguments: paths or node ids, in the row's order

    @property
    def key(self) -> str:
        """The clause id: the first cell's first word ("T1.4", "SAMP.1-SAMP.3", "training")."""
        return self.label.split()[0]


@dataclass(frozen=True)
class Mutation:
    """One small change to the function a clause names (spec/mutations.toml)."""

    clause: str
    file: str
    original: str
    replacement: str
    description: str


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    status: str  # killed | survived | broken
    killed_by: str  # the first failing test, or why the mutation is broken
    seconds: float


_CITE = re.compile(r"`([^`]+)`")


def parse_traceability(text: str) -> list[ClauseRow]:
    """Clause rows of the table: cells | clause | functions | tests |; header and rule rows skipped.

    In the tests cell every backticked ``tests/...`` item is a pytest argument; an item ``::name``
    names a test of the file cited just before it.
    """
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] == "clause" or set(cells[0]) <= set("-: "):
            continue
        tests, last_file = [], None
        for item in _CITE.findall(cells[2]):
            item = item.strip()
            if item.startswith("tests/"):
                last_file = item.split("::")[0]
                tests.append(item)
            elif item.startswith("::") and last_file is not None:
                tests.append(last_file + item)
        rows.append(ClauseRow(cells[0], tuple(tests)))
    return rows


def load_mutations(path: Path = MUTATIONS) -> list[Mutation]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for entry in data.get("mutation", []):
        out.append(Mutation(entry["clause"], entry["file"], entry["original"], entry["replacement"],
                            entry["description"]))
    return out


def row_for(mutation: Mutation, rows: list[ClauseRow]) -> ClauseRow | None:
    """The traceability row a mutation belongs to: its clause equals the row's whole label, or the row's
    key (first word) when no other row shares that key (rows sharing a key are named by their labels)."""
    for row in rows:
        if mutation.clause == row.label:
            return row
    keyed = [row for row in rows if row.key == mutation.clause]
    return keyed[0] if len(keyed) == 1 else None


def uncovered_rows(rows: list[ClauseRow], mutations: list[Mutation]) -> list[str]:
    """Labels of the rows that no mutation belongs to (see :func:`row_for`)."""
    covered = {id(r) for r in (row_for(m, rows) for m in mutations) if r is not None}
    return [r.label for r in rows if id(r) not in covered]


def snippet_problem(mutation: Mutation, root: Path = ROOT) -> str | None:
    """Why the mutation cannot be applied (None when it can): the snippet must occur exactly once."""
    path = root / mutation.file
    if not path.is_file():
        return f"no file {mutation.file}"
    if mutation.original == mutation.replacement:
        return "replacement equals the original"
    count = path.read_text(encoding="utf-8").count(mutation.original)
    if count != 1:
        return f"snippet occurs {count} times in {mutation.file} (must be exactly once)"
    return None


def sample(mutations: list[Mutation], k: int, seed: int) -> list[Mutation]:
    """K mutations chosen by seed: the K smallest SHA-256 digests of (seed, clause, description).

    The choice depends on each mutation's own text, not on its place in the file: adding, removing or
    reordering other mutations changes a fixed (K, seed) sample only where a new mutation's digest
    enters the K smallest (it then displaces the largest).  Kept in file order.
    """
    def rank(m: Mutation) -> str:
        return hashlib.sha256(f"{seed}\0{m.clause}\0{m.description}".encode()).hexdigest()

    chosen = {id(m) for m in sorted(mutations, key=rank)[:k]}
    return [m for m in mutations if id(m) in chosen]


# --------------------------------------------------------------------------- running


def source_files(root: Path) -> list[str]:
    """The files a fresh clone plus untracked work would have: git's view, ignored files excluded."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                             capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p and (root / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", ".hypothesis", ".pytest_cache", "build", "dist"}
        return [str(p.relative_to(root)) for p in root.rglob("*")
                if p.is_file() and not (set(p.relative_to(root).parts) & skip)
                and not any(part.endswith(".egg-info") for part in p.parts)]


def make_scratch() -> Path:
    """A fresh copy of the tree as it is now (files that vanish while copying are skipped)."""
    scratch = Path(tempfile.mkdtemp(prefix="mmcert-mutant-"))
    for rel in source_files(ROOT):
        dst = scratch / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(ROOT / rel, dst)
        except FileNotFoundError:
            continue
    (scratch / f"{GUARD_MODULE}.py").write_text(GUARD_SOURCE, encoding="utf-8")
    return scratch


#: "FAILED path::name[params] - message": a parametrized id may contain spaces, so it runs to its "]"
_FAILED = re.compile(r"^(FAILED|ERROR) ([^\s\[]+(?:\[.*?\])?)", re.MULTILINE)


def run_tests(scratch: Path, tests: tuple[str, ...], timeout: int, slow: bool = False) -> tuple[int | None, str]:
    """(pytest's exit code or None on timeout, its output) for the cited tests in the scratch copy."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(scratch)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["HYPOTHESIS_PROFILE"] = "dev"
    env["MUTATION_SCRATCH"] = str(scratch)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", GUARD_MODULE,
           "--hypothesis-seed=0", "-rfE", *(() if slow else ("-m", "not slow")), *tests]
    try:
        proc = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return None, out
    return proc.returncode, proc.stdout + proc.stderr


def judge(code: int | None, output: str) -> tuple[str, str]:
    """(status, detail) from one pytest run of a mutant."""
    if "MUTATION-GUARD" in output:
        return "broken", "the scratch copy was not imported: " + output.strip().splitlines()[-1]
    if code is None:
        return "killed", f"timeout after {RUN_TIMEOUT} s"
    if code == 0:
        return "survived", "-"
    failures = _FAILED.findall(output)
    if code == 1 and failures:
        return "killed", failures[0][1]
    # 2: interrupted (collection error: the mutant does not import), 3: internal, 4: usage, 5: none ran
    tail = " | ".join(line for line in output.strip().splitlines()[-3:])
    return "broken", f"pytest exit {code}: {tail[:300]}"


_CONFIRMED: dict[str, bool] = {}
_CONFIRM_LOCK = threading.Lock()


def passes_unmutated(test: str, timeout: int, slow: bool) -> bool:
    """Does ``test`` pass on an unmutated scratch copy?  (A kill only counts if it does; cached.)"""
    with _CONFIRM_LOCK:
        if test in _CONFIRMED:
            return _CONFIRMED[test]
    scratch = make_scratch()
    try:
        code, _ = run_tests(scratch, (test,), timeout, slow)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with _CONFIRM_LOCK:
        _CONFIRMED[test] = code == 0
    return code == 0


def run_mutation(mutation: Mutation, tests: tuple[str, ...], timeout: int,
                 slow: bool = False, logs: Path | None = None) -> Outcome:
    start = time.monotonic()
    problem = snippet_problem(mutation)
    if problem is None and not tests:
        problem = "the clause row cites no tests"
    if problem is not None:
        return Outcome(mutation, "broken", problem, 0.0)
    scratch = make_scratch()
    try:
        target = scratch / mutation.file
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace(mutation.original, mutation.replacement, 1), encoding="utf-8")
        code, output = run_tests(scratch, tests, timeout, slow)
        status, detail = judge(code, output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if status == "killed" and not detail.startswith("timeout") and not passes_unmutated(detail, timeout, slow):
        status, detail = "broken", f"{detail} fails without the mutation too"
    if logs is not None:
        name = re.sub(r"[^A-Za-z0-9.]+", "_", f"{mutation.clause}_{mutation.description}")[:80]
        (logs / f"{name}.log").write_text(f"{status}: {detail}\n\n{output}", encoding="utf-8")
    return Outcome(mutation, status, detail, time.monotonic() - start)


def run_baseline(row: ClauseRow, timeout: int, slow: bool = False) -> tuple[str, str, float]:
    start = time.monotonic()
    scratch = make_scratch()
    try:
        code, output = run_tests(scratch, row.tests, timeout, slow)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    status = "pass" if code == 0 else "FAIL"
    detail = "-" if code == 0 else (_FAILED.findall(output) or [("", output.strip().splitlines()[-1:])])[0][1]
    return status, str(detail), time.monotonic() - start


# --------------------------------------------------------------------------- driver


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def print_table(outcomes: list[Outcome]) -> None:
    print("| clause | file | mutation | result | killed by | s |")
    print("|---|---|---|---|---|---|")
    for o in outcomes:
        m = o.mutation
        short = m.file.replace("mmcert_verified/", "")
        print(f"| {m.clause} | `{short}` | {_cell(m.description)} | {o.status} | {_cell(o.killed_by)} | {o.seconds:.0f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clause", help="only the rows whose clause id (first word) or label contains one of these "
                    "(comma-separated)")
    ap.add_argument("--sample", type=int, help="run K mutations drawn pseudo-randomly with --seed (see sample())")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="parallel workers (default 1)")
    ap.add_argument("--timeout", type=int, default=RUN_TIMEOUT, help="seconds per pytest run")
    ap.add_argument("--slow", action="store_true", help="also run cited tests marked slow")
    ap.add_argument("--logs", type=Path, help="write each mutant's pytest output to this directory")
    ap.add_argument("--list", action="store_true", help="print the selected mutations and exit")
    ap.add_argument("--baseline", action="store_true", help="run each selected row's tests unmutated")
    args = ap.parse_args(argv)

    rows = parse_traceability(TRACEABILITY.read_text(encoding="utf-8"))
    mutations = load_mutations()
    all_rows = rows  # a mutation's row is found in the whole table (a key may be shared, see row_for)
    if args.clause:
        wants = [w.strip().lower() for w in args.clause.split(",") if w.strip()]
        rows = [r for r in rows if any(r.key.lower() == w or w in r.label.lower() for w in wants)]
        mutations = [m for m in mutations if any(row_for(m, all_rows) is r for r in rows)]
        if not rows:
            print(f"no clause row matches {args.clause!r}", file=sys.stderr)
            return 2
    uncovered = uncovered_rows(rows, mutations)
    orphans = [m for m in mutations if row_for(m, all_rows) is None]
    if args.sample is not None and args.sample < len(mutations):
        mutations = sample(mutations, args.sample, args.seed)
        print(f"sampled {len(mutations)} mutations with seed {args.seed}")
    if args.list:
        for m in mutations:
            print(f"{m.clause:16} {m.file:45} {m.description}")
        return 0

    if args.baseline:
        bad = 0
        for row in rows:
            status, detail, secs = run_baseline(row, args.timeout, args.slow)
            bad += status != "pass"
            print(f"{row.key:16} {status}  {secs:6.1f} s  {detail}", flush=True)
        return 1 if bad else 0

    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    sanity = Mutation(SANITY["clause"], SANITY["file"], SANITY["original"], SANITY["replacement"],
                      SANITY["description"])
    check = run_mutation(sanity, SANITY["tests"], args.timeout, args.slow)
    if check.status != "killed":
        print(f"sanity mutation not killed ({check.status}: {check.killed_by}): the scratch copy is not "
              "what the tests import; no result would mean anything", file=sys.stderr)
        return 1
    print(f"sanity mutation killed by {check.killed_by} ({check.seconds:.0f} s): the tests import the scratch copy",
          flush=True)

    def job(m: Mutation) -> Outcome:
        row = row_for(m, all_rows)
        o = run_mutation(m, row.tests if row else (), args.timeout, args.slow, args.logs)
        print(f"  {o.status:8} {m.clause:14} {m.description}  [{o.killed_by}] {o.seconds:.0f} s", flush=True)
        return o

    start = time.monotonic()
    runnable = [m for m in mutations if m not in orphans]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(job, runnable))
    outcomes += [Outcome(m, "broken", f"no traceability row with clause {m.clause!r}", 0.0) for m in orphans]
    print()
    print_table(outcomes)
    killed = sum(o.status == "killed" for o in outcomes)
    print(f"\n{killed} of {len(outcomes)} mutations killed in {time.monotonic() - start:.0f} s")
    failed = False
    if uncovered:
        print("clause rows without a mutation: " + ", ".join(uncovered))
        failed = True
    if killed != len(outcomes):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
