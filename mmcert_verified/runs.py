"""Data-set runs: a TOML config, one JSON line per input, resume, shards and merge.

A run certifies every input of a data set against a list of budgets and
writes a JSON-lines file: a header line (the config, its SHA-256, the
budgets, the number of inputs, the shard) and then one line per input,
flushed as soon as it is certified.  Because input ``i``'s votes come from
its own seeded stream (clause SAMP.3), an input's line does not depend on
which other inputs were run, in which order, or in which shard, so

* **resume**: rerunning the same command skips inputs whose lines are in the
  file; a last line cut short by an interruption is dropped and redone;
* **shards**: ``--shard i/n`` takes the inputs with ``index % n == i``;
* **merge**: the shard files joined and sorted by index are byte for byte the
  file one unsharded run writes.

Config (TOML)::

    task = "classification"              # or "segmentation"
    classes = 7
    [model]                              # a callable returning the nn.Module
    factory = "reference_models.av:pretrained"     # "module:name" or "file.py:name"
    kwargs = { method = "mmcert" }
    [data]                               # a callable returning a data set:
    factory = "reference_models.av_data:test_set"  # len(ds); ds[i] -> (inputs, label)
    kwargs = { count = 70 }
    [[modalities]]                       # in the order the model takes them
    name = "video"; shape = [32, 1, 8, 8]; element_dims = [0]; channel_dim = 1
    fill = 0.0; mask_channel = true
    [certify]
    method = "mmcert"; k = [2, 4]; N = 100; alpha = "0.001"
    batch_size = 100; seed = 0; device = "cpu"; engine = "auto"
    [budgets]
    attack = "modify"                    # or one per modality
    r = [[0, 0], [1, 1]]                 # explicit budgets, and/or
    ratios = [[1, 1], [1, 2]]            # r = t * ratio for every t in steps
    steps = [0, 1, 2, 3]

``file.py`` paths are relative to the config file.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import importlib.util
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .certifier import Task
from .errors import InputFileError, InvalidParameterError
from .sampling.modality import Ablation, Modality
from .sampling.plan import SamplingPlan
from .threat_model import Budget, Method, parse_attacks

#: the header's format tag; a file without it was not written by ``mmcert run``
FORMAT = "mmcert-run/1"


class Engine(str, enum.Enum):
    """Which certification engine a run uses (``certify.engine``)."""

    AUTO = "auto"  # the fast engine where installed (segmentation), else the reference
    REFERENCE = "reference"
    FAST = "fast"


# --------------------------------------------------------------------------- config

@dataclass(frozen=True)
class Factory:
    """A callable named as ``module:name`` or ``path/to/file.py:name``, and its keyword arguments."""

    spec: str
    kwargs: dict = field(default_factory=dict)
    base_dir: str = "."

    def resolve(self) -> Callable[..., Any]:
        module_name, sep, attr = self.spec.partition(":")
        if not sep or not module_name or not attr:
            raise InvalidParameterError(f"factory {self.spec!r} must look like 'module:name' or 'file.py:name'")
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_absolute():
                path = Path(self.base_dir) / path
            if not path.is_file():
                raise InputFileError(f"factory file {path} not found")
            spec = importlib.util.spec_from_file_location(f"mmcert_factory_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise InputFileError(f"cannot import {module_name!r} for factory {self.spec!r}: {exc}") from None
        try:
            return getattr(module, attr)
        except AttributeError:
            raise InputFileError(f"{module_name!r} has no {attr!r} (factory {self.spec!r})") from None

    def build(self, **extra) -> Any:
        """Call the factory with its keyword arguments (checked against its signature first)."""
        import inspect

        fn = self.resolve()
        kwargs = {**self.kwargs, **extra}
        try:
            inspect.signature(fn).bind(**kwargs)
        except TypeError as exc:
            raise InvalidParameterError(f"factory {self.spec!r} does not accept {sorted(kwargs)}: {exc}") from None
        except ValueError:  # no signature available (some builtins): just call it
            pass
        return fn(**kwargs)


@dataclass(frozen=True)
class RunConfig:
    """A parsed run config: model, data, modalities, sub-sampling, votes, alpha, budgets."""

    task: Task
    classes: int
    model: Factory
    data: Factory
    plan: SamplingPlan
    n_samples: int
    alpha: str
    batch_size: int
    seed: int
    device: str
    engine: Engine
    budgets: tuple[Budget, ...]

    def canonical(self) -> dict:
        """The config as plain JSON data, everything that determines the output lines."""
        return {
            "task": self.task.value,
            "classes": self.classes,
            "model": {"factory": self.model.spec, "kwargs": self.model.kwargs},
            "data": {"factory": self.data.spec, "kwargs": self.data.kwargs},
            "modalities": [
                {
                    "name": m.name, "shape": list(m.shape), "element_dims": list(m.element_dims),
                    "channel_dim": m.channel_dim, "fill": m.ablation.fill, "mask_channel": m.ablation.mask_channel,
                }
                for m in self.plan.modalities
            ],
            "certify": {
                "method": self.plan.method.value, "k": list(self.plan.k), "N": self.n_samples,
                "alpha": self.alpha, "batch_size": self.batch_size, "seed": self.seed,
                "device": self.device, "engine": self.engine.value,
            },
            "budgets": budgets_json(self.budgets),
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_overrides(self, **changes) -> "RunConfig":
        """A copy with some fields replaced (e.g. ``device`` from the command line)."""
        from dataclasses import replace

        return replace(self, **changes)


def budgets_json(budgets: Sequence[Budget]) -> list[dict]:
    return [{"r": list(b.r), "attack": [a.value for a in b.attack]} for b in budgets]


def _need(table: dict, key: str, where: str, kinds: type | tuple[type, ...]):
    if key not in table:
        raise InvalidParameterError(f"{where}: missing '{key}'")
    value = table[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is int):
        raise InvalidParameterError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def _int(table: dict, key: str, where: str, default: int | None = None) -> int:
    if key not in table and default is not None:
        return default
    value = _need(table, key, where, int)
    return int(value)


def _alpha_text(value: Any, where: str) -> str:
    """alpha as the decimal the user wrote (a TOML float is read back by its shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, (str, float, int)):
        raise InvalidParameterError(f"{where}: alpha must be a number or a decimal string")
    text = value if isinstance(value, str) else repr(value)
    from .reference.certify import alpha_fraction

    alpha_fraction(text)  # validates (0, 1)
    return text


def _budgets(table: dict, modalities: int, where: str) -> tuple[Budget, ...]:
    attack = parse_attacks(table.get("attack", "modify"), modalities)
    out: list[Budget] = []
    for r in table.get("r", []):
        out.append(Budget(tuple(r), attack))
    ratios, steps = table.get("ratios"), table.get("steps")
    if (ratios is None) != (steps is None):
        raise InvalidParameterError(f"{where}: 'ratios' and 'steps' go together")
    for ratio in ratios or []:
        if len(ratio) != modalities:
            raise InvalidParameterError(f"{where}: ratio {ratio} needs {modalities} entries")
        for t in steps:
            out.append(Budget(tuple(int(t) * int(c) for c in ratio), attack))
    unique = list(dict.fromkeys(out))
    if not unique:
        raise InvalidParameterError(f"{where}: no budgets (give 'r', or 'ratios' and 'steps')")
    for b in unique:
        if len(b.r) != modalities:
            raise InvalidParameterError(f"{where}: budget {list(b.r)} needs {modalities} entries")
    return tuple(unique)


def parse_config(doc: dict, base_dir: str | Path = ".", where: str = "config") -> RunConfig:
    """Validate a config document (see the module docstring); errors name the offending key."""
    try:
        task = Task(str(doc.get("task", "classification")))
        classes = _int(doc, "classes", where)
        factories = []
        for section in ("model", "data"):
            tab = _need(doc, section, where, dict)
            kwargs = tab.get("kwargs", {})
            if not isinstance(kwargs, dict):
                raise InvalidParameterError(f"{where}: [{section}] kwargs must be a table")
            factories.append(Factory(str(_need(tab, "factory", f"{where} [{section}]", str)), dict(kwargs), str(base_dir)))
        mods = []
        for j, tab in enumerate(_need(doc, "modalities", where, list)):
            w = f"{where} modality {j + 1}"
            ablation = Ablation(tab.get("fill", 0.0), tab.get("mask_channel", True))
            mods.append(Modality(str(_need(tab, "name", w, str)), tuple(_need(tab, "shape", w, list)),
                                 tuple(_need(tab, "element_dims", w, list)), tab.get("channel_dim"), ablation))
        cert = _need(doc, "certify", where, dict)
        w = f"{where} [certify]"
        method = Method(str(cert.get("method", "mmcert")))
        k = cert.get("k")
        k = (k,) if isinstance(k, int) else tuple(_need(cert, "k", w, list))
        plan = SamplingPlan(tuple(mods), k, method)
        engine = Engine(str(cert.get("engine", "auto")))
        n_samples = _int(cert, "N", w)
        batch = _int(cert, "batch_size", w, 100)
        seed = _int(cert, "seed", w, 0)
        if n_samples < 1 or batch < 1 or seed < 0:
            raise InvalidParameterError(f"{w}: N and batch_size must be positive, seed non-negative")
        budgets = _budgets(_need(doc, "budgets", where, dict), len(mods), f"{where} [budgets]")
        return RunConfig(
            task, classes, factories[0], factories[1], plan, n_samples,
            _alpha_text(_need(cert, "alpha", w, (str, float, int)), w), batch, seed,
            str(cert.get("device", "cpu")), engine, budgets,
        )
    except InvalidParameterError:
        raise
    except (ValueError, TypeError) as exc:  # Enum lookups, bad numbers, lists of the wrong kind
        raise InvalidParameterError(f"{where}: {exc}") from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run config."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise InputFileError(f"config {path} not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(f"cannot read config {path}: {exc}") from None
    return parse_config(doc, path.parent, str(path))


# --------------------------------------------------------------------------- shards

@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the inputs with ``input_index % count == index``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise InvalidParameterError(f"shard {self.index}/{self.count}: need 0 <= i < n")

    @classmethod
    def parse(cls, text: str) -> "Shard":
        i, sep, n = str(text).partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(i), int(n))
        except ValueError:
            raise InvalidParameterError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None

    def indices(self, total: int) -> range:
        return range(self.index, total, self.count)


# --------------------------------------------------------------------------- output files

@dataclass(frozen=True)
class RunFile:
    """A run output read back: header, complete input lines by index, and where they end."""

    header: dict
    lines: dict[int, str]
    complete_bytes: int
    partial_tail: bool


def read_run_file(path: str | Path) -> RunFile:
    """Parse a run file; a last line without its newline is reported as ``partial_tail``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from None
    end = data.rfind(b"\n") + 1  # bytes up to the last complete line
    partial = end < len(data)
    text = data[:end].decode("utf-8", errors="strict") if end else ""
    rows = text.splitlines()
    if not rows:
        raise InputFileError(f"{path} has no complete header line: not an mmcert run file")
    try:
        header = json.loads(rows[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InputFileError(f"{path} is not an mmcert run file (no {FORMAT} header); refusing to touch it")
    lines: dict[int, str] = {}
    for number, row in enumerate(rows[1:], 2):
        try:
            index = int(json.loads(row)["index"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InputFileError(f"{path}:{number}: not a result line") from None
        if index in lines:
            raise InputFileError(f"{path}:{number}: input {index} appears twice")
        lines[index] = row
    return RunFile(header, lines, end, partial)


def _dumps(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_header(config: RunConfig, total: int, shard: Shard) -> dict:
    return {
        "format": FORMAT,
        "config": config.canonical(),
        "config_sha256": config.digest,
        "inputs": total,
        "shard": [shard.index, shard.count],
    }


# --------------------------------------------------------------------------- execution

@dataclass(frozen=True)
class RunSummary:
    """What one invocation did."""

    out: str
    total: int
    in_shard: int
    already_done: int
    newly_done: int
    remaining: int


def _engine(config: RunConfig):
    from .certifier import default_segmentation_engine, reference_classification_engine

    if config.task is Task.CLASSIFICATION:
        return reference_classification_engine()  # exact and fast enough for one input at a time
    if config.engine is Engine.REFERENCE:
        from .reference.segmentation import segment

        return segment
    if config.engine is Engine.FAST:
        try:
            from .fast.segmentation import segment  # type: ignore[import-not-found]
        except ImportError:
            raise InvalidParameterError("engine 'fast' is not available in this installation") from None
        return segment
    return default_segmentation_engine()


def _input_digest(inputs) -> str:
    """SHA-256 over the input's modality tensors (dtype, shape and bytes, in order)."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for x in inputs:
        t = torch.as_tensor(x).detach().cpu().contiguous()
        h.update(f"{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def write_input_certificates(config: RunConfig, index: int, counts, labels, inputs, directory: Path) -> list[str]:
    """Clause CERT.1 for data-set runs: one audit-ready certificate per budget for input ``index``.

    Classification certificates come from the reference engine's ``certify``
    (with the radius along the budget's direction); segmentation certificates
    from the reference ``segment``, with the votes in an ``.npz`` sidecar.
    Provenance records the input's seed (clause SAMP.3) and input digest.  An
    existing file (an interrupted run being resumed) is kept, never overwritten.
    """
    import numpy as np

    from .certificate import (
        Provenance,
        classification_certificate,
        radius_along_budget,
        write_certificate,
        write_segmentation_certificate,
    )
    from .reference.certify import certify as ref_certify
    from .reference.segmentation import segment as ref_segment
    from .sampling.seeds import input_seed

    directory.mkdir(parents=True, exist_ok=True)
    setting = config.plan.setting
    prov = Provenance(
        seed=input_seed(config.seed, index),
        rng="torch.Generator seeded by mmcert_verified.sampling.seeds.input_seed(run seed, input index)",
        input_sha256=_input_digest(inputs),
        engine="reference",
    )
    names = []
    for j, budget in enumerate(config.budgets):
        path = directory / f"input-{index:06d}-budget-{j:02d}.json"
        names.append(path.name)
        if path.exists():
            continue
        if config.task is Task.CLASSIFICATION:
            res = ref_certify(list(counts), config.alpha, setting.n, setting.k, budget.r, budget.attack, setting.method)
            doc = classification_certificate(res, alpha_text=config.alpha, provenance=prov, radius=radius_along_budget(res))
            write_certificate(doc, path)
        else:
            votes = np.asarray(counts)
            seg = ref_segment(votes, config.alpha, setting.n, setting.k, budget.r, budget.attack, setting.method,
                              labels=labels)
            write_segmentation_certificate(
                path, votes, labels, alpha_text=config.alpha, n=setting.n, k=setting.k, r=budget.r,
                attack=[a.value for a in budget.attack], method=setting.method.value, result_json=seg.to_json(),
                provenance=prov,
            )
    return names


def certify_records(
    config: RunConfig, indices: Sequence[int], dataset=None, model=None, certificates: str | Path | None = None
) -> Iterator[dict]:
    """Certify the inputs ``indices`` of the config's data set; yields one JSON-ready record each.

    With ``certificates`` (a directory), also writes one certificate per input and budget there and
    lists their file names in the record.
    """
    import torch

    from .certifier import Certifier, certify_classification_counts, certify_segmentation_counts

    dataset = dataset if dataset is not None else config.data.build()
    model = model if model is not None else config.model.build()
    certifier = Certifier(
        model, config.plan, config.task, config.classes, n_samples=config.n_samples,
        batch_size=config.batch_size, seed=config.seed, device=config.device,
    )
    engine = _engine(config)
    for index in indices:
        inputs, label = dataset[index]
        counts = certifier.votes(tuple(torch.as_tensor(x) for x in inputs), index)
        if config.task is Task.CLASSIFICATION:
            cert = certify_classification_counts(
                counts, config.alpha, config.plan, config.budgets, index=index,
                label=None if label is None else int(label), engine=engine,
            )
            rec = {
                "index": index, "label": cert.label, "prediction": cert.prediction,
                "counts": list(cert.counts), "certified": [v.certified for v in cert.verdicts],
            }
            if certificates is not None:
                rec["certificates"] = write_input_certificates(config, index, cert.counts, None, inputs, Path(certificates))
            yield rec
        else:
            import numpy as np

            labels = None if label is None else np.asarray(torch.as_tensor(label).cpu())
            verdicts = certify_segmentation_counts(counts, config.alpha, config.plan, config.budgets,
                                                   labels=labels, engine=engine)[0]
            rec: dict[str, Any] = {"index": index, "pixels": int(np.prod(counts.shape[1:]))}
            for key in ("certified_pixels", "abstained_pixels", "pixel_accuracy", "f_score", "iou"):
                rec[key] = [getattr(v, key) for v in verdicts]
            if certificates is not None:
                rec["certificates"] = write_input_certificates(
                    config, index, np.asarray(torch.as_tensor(counts).cpu()), labels, inputs, Path(certificates)
                )
            yield rec


def default_out(config_path: str | Path, shard: Shard) -> Path:
    """``CONFIG-STEM[.shard-i-of-n].jsonl`` in the current directory."""
    suffix = "" if shard.count == 1 else f".shard-{shard.index}-of-{shard.count}"
    return Path(f"{Path(config_path).stem}{suffix}.jsonl")


def execute(
    config: RunConfig,
    out: str | Path,
    shard: Shard = Shard(),
    limit: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    certificates: str | Path | None = None,
) -> RunSummary:
    """Run (or resume) ``config`` on ``shard``, appending one flushed line per input to ``out``.

    ``limit`` certifies at most that many new inputs in this call (the rest
    are left for a later resume).  An existing ``out`` must be a run file of
    the same config and shard; its complete lines are kept, a cut-off last
    line is dropped and redone.
    """
    out = Path(out)
    dataset = config.data.build()
    try:
        total = len(dataset)
    except TypeError:
        raise InputFileError(f"data factory {config.data.spec!r} returned an object without len()") from None
    header = run_header(config, total, shard)
    done: set[int] = set()
    if out.exists():
        existing = read_run_file(out)
        if existing.header.get("config_sha256") != header["config_sha256"]:
            raise InputFileError(
                f"{out} was written for a different config; give another --out (it is left as it is)"
            )
        if existing.header.get("shard") != header["shard"] or existing.header.get("inputs") != total:
            raise InputFileError(
                f"{out} holds shard {existing.header.get('shard')} of {existing.header.get('inputs')} inputs, "
                f"not {header['shard']} of {total}; give another --out"
            )
        done = set(existing.lines)
        stray = [i for i in done if i % shard.count != shard.index or i >= total]
        if stray:
            raise InputFileError(f"{out} holds input {stray[0]}, which is not in shard {shard.index}/{shard.count}")
        if existing.partial_tail:
            with out.open("r+b") as fh:  # drop the line an interruption cut short
                fh.truncate(existing.complete_bytes)
            if log:
                log(f"{out}: dropped a partial last line (it will be redone)")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("x", encoding="utf-8") as fh:
            fh.write(_dumps(header) + "\n")
    todo = [i for i in shard.indices(total) if i not in done]
    if limit is not None:
        if limit < 0:
            raise InvalidParameterError(f"--limit must be non-negative, got {limit}")
        todo_now = todo[:limit]
    else:
        todo_now = todo
    in_shard = len(shard.indices(total))
    bar = None
    if todo_now and progress is not False:
        from tqdm import tqdm

        bar = tqdm(total=len(todo_now), desc=out.name, unit="input", disable=None if progress is None else not progress)
    newly = 0
    with out.open("a", encoding="utf-8") as fh:
        for record in certify_records(config, todo_now, dataset=dataset, certificates=certificates):
            fh.write(_dumps(record) + "\n")
            fh.flush()
            newly += 1
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return RunSummary(str(out), total, in_shard, len(done), newly, len(todo) - newly)


# --------------------------------------------------------------------------- merge

@dataclass(frozen=True)
class MergeSummary:
    out: str
    shards: int
    inputs: int


def merge(out: str | Path, shard_files: Sequence[str | Path]) -> MergeSummary:
    """Join shard outputs into the file an unsharded run writes (sorted by index).

    Refuses to overwrite ``out``; checks the shards come from one config,
    are complete (no cut-off lines) and together hold every input exactly once.
    """
    out = Path(out)
    if out.exists():
        raise InputFileError(f"{out} already exists; refusing to overwrite it")
    if not shard_files:
        raise InvalidParameterError("no shard files to merge")
    files = [read_run_file(p) for p in shard_files]
    first = files[0].header
    for path, f in zip(shard_files, files):
        if f.partial_tail:
            raise InputFileError(f"{path} ends with a cut-off line: resume that shard with mmcert run first")
        if f.header.get("config_sha256") != first.get("config_sha256") or f.header.get("inputs") != first.get("inputs"):
            raise InputFileError(f"{path} comes from a different config than {shard_files[0]}")
    merged: dict[int, str] = {}
    for path, f in zip(shard_files, files):
        for index, row in f.lines.items():
            if index in merged:
                raise InputFileError(f"input {index} appears in more than one shard (again in {path})")
            merged[index] = row
    total = int(first["inputs"])
    missing = [i for i in range(total) if i not in merged]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise InputFileError(f"{len(missing)} of {total} inputs are missing from the shards: {shown}")
    extra = [i for i in merged if not 0 <= i < total]
    if extra:
        raise InputFileError(f"input index {extra[0]} lies outside the data set of {total} inputs")
    header = dict(first)
    header["shard"] = [0, 1]
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        raise InputFileError(f"{tmp} exists (left by an interrupted merge?); remove it and merge again")
    with tmp.open("x", encoding="utf-8") as fh:
        fh.write(_dumps(header) + "\n")
        for index in sorted(merged):
            fh.write(merged[index] + "\n")
    try:
        os.link(tmp, out)  # fails if out appeared meanwhile: never overwrite
    except FileExistsError:
        tmp.unlink()
        raise InputFileError(f"{out} already exists; refusing to overwrite it") from None
    except OSError:
        if out.exists():
            tmp.unlink()
            raise InputFileError(f"{out} already exists; refusing to overwrite it") from None
        tmp.rename(out)
    else:
        tmp.unlink()
    return MergeSummary(str(out), len(files), total)


# --------------------------------------------------------------------------- summaries

def summarize(path: str | Path) -> list[dict]:
    """Per budget: certified accuracy (classification) or mean certified metrics (segmentation)."""
    f = read_run_file(path)
    budgets = f.header["config"]["budgets"]
    rows = [json.loads(line) for _, line in sorted(f.lines.items())]
    out = []
    for j, b in enumerate(budgets):
        entry: dict[str, Any] = {"r": b["r"], "attack": b["attack"], "inputs": len(rows)}
        if f.header["config"]["task"] == "classification":
            hits = sum(1 for row in rows if row["certified"][j] and row["label"] is not None and row["prediction"] == row["label"])
            entry["certified_accuracy"] = hits / len(rows) if rows else None
        else:
            for key in ("pixel_accuracy", "f_score", "iou"):
                vals = [row[key][j] for row in rows if row[key][j] is not None]
                entry[key] = sum(vals) / len(vals) if vals else None
        out.append(entry)
    return out


__all__ = [
    "FORMAT", "Engine", "Factory", "MergeSummary", "RunConfig", "RunFile", "RunSummary", "Shard",
    "certify_records", "default_out", "execute", "load_config", "merge", "parse_config",
    "read_run_file", "summarize",
]
