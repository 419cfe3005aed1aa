"""Start-up cost of ``mmcert VERB`` (issue 16): a command loads its own verb's module only, and importing
the package or the CLI loads no engine, mpmath, scipy or torch; the full parser is still built for a command
line that names no known verb (help, usage errors)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mmcert_verified.cli import REGISTERED_BY, VERBS, _verb_of, build_parser


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_parsing_a_run_command_loads_no_other_verb_and_no_engine():
    mods = loaded_after("from mmcert_verified.cli import build_parser\n"
                        "build_parser('run').parse_args(['run', 'x.toml', '--quiet'])")
    assert "mmcert_verified.cli.run" in mods
    other_verbs = {f"mmcert_verified.cli.{v}" for v in VERBS if v != "run"} & mods
    assert other_verbs == set()
    heavy = {"torch", "mpmath", "scipy", "flint", "mmcert_verified.reference.certify"} & mods
    assert heavy == set()


def test_importing_the_package_loads_only_its_errors_and_public_names_on_use():
    mods = loaded_after("import mmcert_verified")
    assert {"mpmath", "numpy", "mmcert_verified.reference.certify"} & mods == set()
    mods = loaded_after("from mmcert_verified import certify, Budget, Votes\nassert certify(\n"
                        "    [100, 0], '0.001', [10], [1], [0], 'modify').certified")
    assert "mmcert_verified.reference.certify" in mods


def test_public_names_resolve_lazily_to_their_modules():
    import mmcert_verified
    from mmcert_verified.reference.certify import radius
    from mmcert_verified.threat_model import Setting

    assert mmcert_verified.radius is radius and mmcert_verified.Setting is Setting
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mmcert_verified.nope  # noqa: B018


@pytest.mark.parametrize("argv,module", [
    (["run", "a.toml"], "run"), (["--version", "plan", "x"], "plan"), (["merge", "o"], "run"),
    (["nosuch"], None), ([], None), (["-h"], None),
])
def test_the_verb_module_of_a_command_line(argv, module):
    assert _verb_of(argv) == module


def test_one_verb_parser_parses_as_the_full_one():
    argv = ["run", "cfg.toml", "--out", "o.jsonl", "--limit", "3", "--quiet"]
    full, one = build_parser().parse_args(argv), build_parser("run").parse_args(argv)
    assert vars(full) == vars(one)
    assert set(REGISTERED_BY.values()) <= set(VERBS)
