"""``mmcert attack CONFIG.toml``: run the falsification harness (spec ATK.6-ATK.8) over a run config's data.

Reads the same TOML as ``mmcert run`` (model, data, modalities, k, N, alpha, budgets); for every input
certifies with the reference engine, attacks every budget with the greedy element attack and writes
one JSON line per input (a header line first).  Resumable: rerunning skips the inputs already in the
file (a cut-off last line is dropped and redone).  Classification configs with modification budgets
only; anything else is one line on stderr and exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ATTACK_FORMAT = "mmcert-attack/1"


def register(sub) -> None:
    p = sub.add_parser("attack", help="attack inside certified budgets (falsification harness); JSON lines, resumable",
                       description=__doc__.splitlines()[0])
    p.add_argument("config", metavar="CONFIG.toml")
    p.add_argument("--out", metavar="FILE", help="output JSON-lines file (default: ./CONFIG-STEM.attack.jsonl)")
    p.add_argument("--limit", type=int, metavar="M", help="attack at most M more inputs in this call")
    p.add_argument("--n-attack", type=int, default=1000, help="votes on each attacked input (default 1000)")
    p.add_argument("--beta", type=float, default=0.001, help="level of the violation test (default 0.001)")
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="attack seed")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=run_attack)


def _done_indices(out: Path, header: dict) -> set[int]:
    from ..errors import InputFileError

    if not out.exists():
        return set()
    lines = out.read_text().split("\n")
    complete = [ln for ln in lines[:-1]]  # the text after the last newline is an interrupted line
    if lines[-1]:
        out.write_text("".join(ln + "\n" for ln in complete))
    if not complete:
        return set()
    try:
        first = json.loads(complete[0])
    except json.JSONDecodeError:
        raise InputFileError(f"{out} is not an attack run file") from None
    if first != header:
        raise InputFileError(f"{out} was written by a different config or settings; choose another --out")
    return {row["index"] for row in _rows(out, complete[1:])}


def _rows(out: Path, lines: list[str]) -> list[dict]:
    """The input lines after the header, each checked to be an object with an integer index and a
    list of findings; anything else is an InputFileError naming the line (never a traceback)."""
    from ..errors import InputFileError

    rows = []
    for number, ln in enumerate(lines, start=2):
        try:
            row = json.loads(ln)
        except json.JSONDecodeError:
            row = None
        if (not isinstance(row, dict) or not isinstance(row.get("index"), int)
                or not isinstance(row.get("findings"), list)
                or not all(isinstance(f, dict) and isinstance(f.get("violation"), bool) for f in row["findings"])):
            raise InputFileError(f"{out} line {number} is not an attack result line; choose another --out")
        rows.append(row)
    return rows


def run_attack(args) -> int:
    from ..attacks.element import GreedyElementAttack
    from ..attacks.harness import MonteCarloHarness
    from ..pipeline.certifier import Task
    from ..errors import InvalidParameterError
    from ..pipeline.runs import load_config

    config = load_config(args.config)
    if config.task is not Task.CLASSIFICATION:
        raise InvalidParameterError("mmcert attack supports classification configs only")
    for b in config.budgets:
        if any(r and a.value != "modify" for r, a in zip(b.r, b.attack)):
            raise InvalidParameterError(f"budget r = {list(b.r)}: element attacks modify only")
    if args.n_attack < 1 or not 0 < args.beta < 1 or args.restarts < 1 or args.steps < 0:
        raise InvalidParameterError("need --n-attack >= 1, 0 < --beta < 1, --restarts >= 1, --steps >= 0")
    out = Path(args.out) if args.out else Path(Path(args.config).stem + ".attack.jsonl")
    header = {"format": ATTACK_FORMAT, "config": config.canonical(), "n_attack": args.n_attack,
              "beta": args.beta, "restarts": args.restarts, "steps": args.steps, "seed": args.seed}
    header = json.loads(json.dumps(header, sort_keys=True))
    done = _done_indices(out, header)
    dataset, model = config.data.build(), config.model.build().eval()
    harness = MonteCarloHarness(model, config.plan, config.classes, n_certify=config.n_samples,
                                n_attack=args.n_attack, alpha=config.alpha, beta=args.beta, seed=config.seed)
    atk = GreedyElementAttack(model, config.plan, config.classes, restarts=args.restarts, steps=args.steps, seed=args.seed)
    todo = [i for i in range(len(dataset)) if i not in done][: args.limit]
    from tqdm import tqdm

    with out.open("a") as fh:
        if not done and out.stat().st_size == 0:
            fh.write(json.dumps(header, sort_keys=True) + "\n")
        for i in tqdm(todo, desc="attack", unit="input", disable=args.quiet):
            inputs, label = dataset[i]
            rep = harness.run([inputs], [label], config.budgets, atk, indices=[i])
            fh.write(json.dumps({"index": i, "findings": [f.to_json() for f in rep.findings]}, sort_keys=True) + "\n")
            fh.flush()
    violations = sum(f["violation"] for row in _rows(out, out.read_text().splitlines()[1:]) for f in row["findings"])
    if not args.quiet:
        print(f"{out}: {violations} violation(s)", file=sys.stderr)
    return 1 if violations else 0
