"""Running (or resuming) a config: validate everything, lock, write the header, append lines (RUN.1-RUN.8).

Because input ``i``'s votes come from its own seeded stream (clause
SAMP.3), an input's line does not depend on which other inputs were run,
in which order, or in which shard.  :func:`execute`

1. validates the whole config before writing anything (clause RUN.7): the
   device, the data set and its first input, every budget against the
   sizes, the model (built, digested, moved to the device) and one trial
   batch through it, checked as votes are;
2. takes the output's lock (clause RUN.2): a second writer is refused;
3. checks an existing output against this run's identity and digests
   (clauses RUN.3, RUN.4, RUN.6), drops a cut-off last line, and re-checks
   and repairs the ``--certificates`` of the inputs already done;
4. writes the header atomically (clause RUN.1) and appends one sealed line
   per input, flushed as soon as it is certified.

So a run killed at any point, resumed with the same command, ends with the
file an uninterrupted run writes, byte for byte.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ...errors import InputFileError, InvalidParameterError, MMCertError
from ..certifier import Task
from .config import Engine, RunConfig, Shard
from .identity import Runtime, identity, identity_digest, model_digest, resolve_device, tensor_digest
from .run_file import FORMAT, LEGACY_FORMAT, dumps, read_run_file, run_header, seal_record


@dataclass(frozen=True)
class RunSummary:
    """What one invocation did."""

    out: str
    total: int
    in_shard: int
    already_done: int
    newly_done: int
    remaining: int
    repaired_certificates: int = 0


# --------------------------------------------------------------------------- validation

@dataclass(frozen=True)
class PreparedRun:
    """A config checked against its model, data and device (clause RUN.7); nothing written yet."""

    config: RunConfig
    runtime: Runtime
    dataset: Any
    model: Any
    total: int
    identity: dict
    identity_sha256: str


def _item(dataset, index: int, config: RunConfig):
    try:
        item = dataset[index]
        inputs, label = item
    except MMCertError:
        raise
    except Exception as exc:
        raise InputFileError(f"data set item {index} cannot be read as (inputs, label): "
                             f"{type(exc).__name__}: {str(exc).strip()[:200]}") from None
    import torch

    try:
        tensors = tuple(torch.as_tensor(x) for x in inputs)
    except Exception as exc:
        raise InputFileError(f"data set item {index}: the inputs are not tensors ({type(exc).__name__})") from None
    return tensors, label


def prepare(config: RunConfig, dataset=None, model=None) -> PreparedRun:
    """Clause RUN.7: every check that can fail on the config, before any file is touched."""
    import torch

    from ..certifier import Certifier
    from ...threat_model import attacked_sizes

    runtime = resolve_device(config.device)
    if config.pack_inputs and runtime.device_type != "cpu":
        raise InvalidParameterError(
            f"pack_inputs is CPU-only for now: on {runtime.device_type} the votes may depend on which inputs share "
            "a batch, and a resumed run groups them differently (clause RUN.3); raise batch_size instead"
        )
    setting = config.plan.setting
    for b in config.budgets:
        try:
            attacked_sizes(setting, b)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"budget r = {list(b.r)} does not fit the config: {exc}") from None
    dataset = dataset if dataset is not None else config.data.build()
    try:
        total = len(dataset)
    except TypeError:
        raise InputFileError(f"data factory {config.data.spec!r} returned an object without len()") from None
    if total < 1:
        raise InputFileError(f"data factory {config.data.spec!r} returned an empty data set")
    model = model if model is not None else config.model.build()
    if not isinstance(model, torch.nn.Module):
        raise InputFileError(f"model factory {config.model.spec!r} returned {type(model).__name__}, not a torch nn.Module")
    digest = model_digest(model)
    inputs, label = _item(dataset, 0, config)
    try:
        certifier = Certifier(model, config.plan, config.task, config.classes, n_samples=config.n_samples,
                              batch_size=config.batch_size, seed=config.seed, device=runtime.device,
                              **config.certifier_options())
    except MMCertError:
        raise
    except Exception as exc:  # moving the model to the device
        raise InvalidParameterError(f"cannot move the model to {runtime.device}: {type(exc).__name__}: "
                                    f"{str(exc).strip()[:200]}") from None
    spatial = certifier.dry_run(inputs)
    _check_label(label, config, spatial, 0)
    ident = identity(config.canonical(), runtime, digest, total, tensor_digest(inputs))
    return PreparedRun(config, runtime, dataset, certifier.model, total, ident, identity_digest(ident))


def _check_label(label, config: RunConfig, spatial: tuple[int, ...], index: int) -> None:
    if label is None:
        return
    import numpy as np
    import torch

    try:
        lab = np.asarray(torch.as_tensor(label).cpu())
    except Exception:
        raise InputFileError(f"data set item {index}: the label is not a number or an array") from None
    if config.task is Task.CLASSIFICATION:
        if lab.ndim != 0 or not np.issubdtype(lab.dtype, np.integer) and not float(lab) == int(lab):
            raise InputFileError(f"data set item {index}: a classification label must be one integer, got {lab!r}")
        value = int(lab)
        if not 0 <= value < config.classes:
            raise InputFileError(f"data set item {index}: label {value} outside [0, {config.classes - 1}]")
    else:
        if tuple(lab.shape) != tuple(spatial):
            raise InputFileError(f"data set item {index}: labels of shape {tuple(lab.shape)} do not match the "
                                 f"model's output {tuple(spatial)}")


# --------------------------------------------------------------------------- certificates

def _engine(config: RunConfig):
    from ..certifier import default_segmentation_engine

    if config.engine is Engine.REFERENCE:
        from ...reference.segmentation import segment

        return segment
    if config.engine is Engine.FAST:
        try:
            from ...fast.segmentation import segment  # type: ignore[import-not-found]
        except ImportError:
            raise InvalidParameterError("engine 'fast' is not available in this installation") from None
        return segment
    return default_segmentation_engine()


def _libraries() -> dict:
    import torch

    from ...certificates.writer import library_versions

    return {**library_versions(), "torch": str(torch.__version__)}


def _certificate_name(index: int, j: int | None = None) -> str:
    """``input-IIIIII-budget-JJ.json`` per budget (CERT.1); ``input-IIIIII.json`` per input (CERT.4)."""
    return f"input-{index:06d}.json" if j is None else f"input-{index:06d}-budget-{j:02d}.json"


def certificate_ok(path: Path) -> bool:
    """A certificate (and its votes sidecar) that parses, passes the structure checks and its digest."""
    import hashlib

    from ...certificates.writer import compute_digest, sidecar_path
    from ...certificates.reader import parse_certificate_bytes, validate_certificate

    try:
        doc = parse_certificate_bytes(path.read_bytes())
        validate_certificate(doc)
        if doc["digest"]["value"] != compute_digest(doc):
            return False
        votes = doc["inputs"].get("votes") if isinstance(doc.get("inputs"), dict) else None
        if isinstance(votes, dict):
            side = sidecar_path(path).read_bytes()
            return hashlib.sha256(side).hexdigest() == votes.get("sha256")
        return True
    except (MMCertError, OSError, KeyError, TypeError, ValueError):
        return False


def _engine_name(engine) -> str:
    """``fast`` / ``reference`` for the package's segmentation engines, ``module:name`` for a user's."""
    module = getattr(engine, "__module__", "") or ""
    for name in ("fast", "reference"):
        if module == f"mmcert_verified.{name}.segmentation":
            return name
    return f"{module}:{getattr(engine, '__qualname__', type(engine).__name__)}"


def write_input_certificates(config: RunConfig, index: int, counts, labels, inputs, directory: Path,
                             model_sha256: str | None = None) -> list[str]:
    """Clause CERT.1 for data-set runs: audit-ready certificates of input ``index``; their file names.

    Per budget (the default): one certificate per budget, classification from the reference engine's
    ``certify`` (with the radius along the budget's direction), segmentation from the run's engine
    (``engine`` of the config: the fast engine's results equal the reference's, clause F.5; all budgets of
    the input in as few calls as :func:`~mmcert_verified.pipeline.certifier.segmentation_results` makes)
    with the votes in an ``.npz`` sidecar.  Per input (``certificates = "per-input"``, clause CERT.4): one
    certificate holding the votes once, a claim per budget and the radius along every configured ratio.
    Provenance records the input's seed (clause SAMP.3), the input and model digests, the engine and the
    torch version.  Files are written atomically (clause RUN.1) and made durable together before this
    returns (one directory fsync per input); an existing certificate that checks out (digest, sidecar) is
    kept, a broken one (a run of an older version killed mid-write) is replaced.
    """
    import numpy as np

    from ...atomic_io import deferred_dir_sync
    from ...certificates.per_input import classification_per_input_certificate, write_segmentation_per_input_certificate
    from ...certificates.writer import (
        Provenance,
        classification_certificate,
        radius_along_budget,
        sidecar_path,
        write_certificate,
        write_segmentation_certificate,
    )
    from ...reference.certify import certify as ref_certify
    from ...sampling.seeds import input_seed
    from ..certifier import segmentation_results

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    setting = config.plan.setting
    bound = getattr(config, "bound", "bonferroni")
    classification = config.task is Task.CLASSIFICATION
    engine = None if classification else _engine(config)
    prov = Provenance(
        seed=input_seed(config.seed, index),
        rng="torch.Generator seeded by mmcert_verified.sampling.seeds.input_seed(run seed, input index)",
        input_sha256=tensor_digest(inputs),
        model_sha256=model_sha256,
        engine="reference" if classification else _engine_name(engine),
        libraries=_libraries(),
    )
    votes = np.asarray(counts)

    def results(budgets):
        """The run engine's segmentation result at each of ``budgets``, in order, as they are computed."""
        return segmentation_results(votes, config.alpha, config.plan, budgets, labels=labels, engine=engine,
                                    bound=bound)

    def write_per_input(path: Path, _budget=None) -> None:
        if classification:
            doc = classification_per_input_certificate(
                [int(c) for c in counts], config.alpha, setting, config.budgets, config.ratios, bound=bound,
                alpha_text=config.alpha, samples=config.n_samples, provenance=prov)
            write_certificate(doc, path)
        else:
            write_segmentation_per_input_certificate(
                path, votes, labels, alpha_text=config.alpha, setting=setting, budgets=config.budgets,
                results_json=[res.to_json() for _, res in results(config.budgets)],
                samples=config.n_samples, bound=bound, provenance=prov)

    def write_classification(path: Path, budget) -> None:
        res = ref_certify(list(counts), config.alpha, setting.n, setting.k, budget.r, budget.attack,
                          setting.method, bound)
        doc = classification_certificate(res, alpha_text=config.alpha, provenance=prov, radius=radius_along_budget(res))
        write_certificate(doc, path)

    def write_segmentation(path: Path, budget, seg) -> None:
        write_segmentation_certificate(
            path, votes, labels, alpha_text=config.alpha, n=setting.n, k=setting.k, r=budget.r,
            attack=[a.value for a in budget.attack], method=setting.method.value, result_json=seg.to_json(),
            provenance=prov,
        )

    per_input = getattr(config, "certificate_layout", "per-budget") == "per-input"
    if per_input:
        jobs = [(directory / _certificate_name(index), None)]
    else:
        jobs = [(directory / _certificate_name(index, j), budget) for j, budget in enumerate(config.budgets)]
    todo = []
    for path, budget in jobs:
        if path.exists():
            if certificate_ok(path):
                continue
            path.unlink()
            sidecar_path(path).unlink(missing_ok=True)
        elif sidecar_path(path).exists():
            sidecar_path(path).unlink()  # the sidecar of a certificate that was never completed
        todo.append((path, budget))
    with deferred_dir_sync():
        if per_input or classification:
            for path, budget in todo:
                (write_per_input if per_input else write_classification)(path, budget)
        elif todo:
            for (path, budget), (_, seg) in zip(todo, results([b for _, b in todo])):
                write_segmentation(path, budget, seg)
    return [path.name for path, _ in jobs]


# --------------------------------------------------------------------------- records

def _labels_array(label):
    import numpy as np
    import torch

    return None if label is None else np.asarray(torch.as_tensor(label).cpu())


#: segmentation images certified together, one engine call per budget for the group (clause SEG.7: each image
#: is still its own Holm family, so the results are the image-by-image ones); a kill loses at most this many
SEGMENTATION_GROUP = 8


def _groups(items: Iterable, size: int) -> Iterator[list]:
    group: list = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def segmentation_extra(config: RunConfig) -> dict:
    """The ``bound=`` keyword for the segmentation engine (none for the default ``bonferroni``)."""
    return {} if config.bound == "bonferroni" else {"bound": config.bound}


def _segmentation_verdicts(config: RunConfig, engine, counts: list, labels: list) -> list:
    """Verdicts per image of a group: one call per budget for the whole group when the images stack."""
    import numpy as np

    from ..certifier import certify_segmentation_counts

    extra = segmentation_extra(config)
    stackable = len({c.shape for c in counts}) == 1 and len({lab is None for lab in labels}) == 1
    if len(counts) > 1 and stackable:
        stacked = None if labels[0] is None else np.stack(labels)
        return certify_segmentation_counts(np.stack(counts), config.alpha, config.plan, config.budgets,
                                           labels=stacked, engine=engine, **extra)
    return [certify_segmentation_counts(c, config.alpha, config.plan, config.budgets, labels=lab, engine=engine,
                                        **extra)[0] for c, lab in zip(counts, labels)]


def certify_records(
    config: RunConfig, indices: Sequence[int], dataset=None, model=None, certificates: str | Path | None = None,
    prepared: PreparedRun | None = None,
) -> Iterator[dict]:
    """Certify the inputs ``indices`` of the config's data set; yields one JSON-ready record each.

    Classification records carry the counts, the verdict per budget and the
    radius t* along every configured ratio (clause R1, ``null`` where not
    certified even at t = 0), by the config's bound method; segmentation
    records the certified metrics per budget and the radius of clause RUN.10
    per ratio (images certified :data:`SEGMENTATION_GROUP` at a time).  Every
    record carries its input's SHA-256.  With ``certificates`` (a directory),
    also writes one certificate per input and budget there and lists their
    file names in the record.  Records are not sealed here.
    """
    from ..certifier import Certifier, ClassificationTable

    prepared = prepared or prepare(config, dataset, model)
    dataset = prepared.dataset
    certifier = Certifier(
        prepared.model, config.plan, config.task, config.classes, n_samples=config.n_samples,
        batch_size=config.batch_size, seed=config.seed, device=prepared.runtime.device,
        **config.certifier_options(),
    )
    model_sha = prepared.identity["model_sha256"]
    labels_of: dict[int, Any] = {}

    def items():
        for index in indices:
            inputs, label = _item(dataset, index, config)
            labels_of[index] = (inputs, label)
            yield index, inputs

    votes = certifier.stream_votes(items())
    if config.task is Task.CLASSIFICATION:
        table = ClassificationTable(config.plan, config.budgets, config.ratios, config.alpha, bound=config.bound,
                                    engine=config.engine.value)
        for index, counts in votes:
            inputs, label = labels_of.pop(index)
            _check_label(label, config, (), index)
            prediction, certified, radii = table.certify(counts)
            rec: dict[str, Any] = {
                "index": index, "label": None if label is None else int(label), "prediction": prediction,
                "counts": [int(c) for c in counts], "certified": list(certified), "radius": list(radii),
                "input_sha256": tensor_digest(inputs),
            }
            if certificates is not None:
                rec["certificates"] = write_input_certificates(config, index, counts, None, inputs, Path(certificates),
                                                               model_sha)
            yield rec
        return

    import numpy as np

    from .segmentation_radius import SegmentationRadius

    engine = _engine(config)
    radius = SegmentationRadius(config.plan, config.budgets, config.ratios, config.alpha, engine,
                                segmentation_extra(config))
    for group in _groups(votes, SEGMENTATION_GROUP):
        rows = []
        for index, counts in group:
            inputs, label = labels_of.pop(index)
            _check_label(label, config, tuple(counts.shape[1:]), index)
            rows.append((index, counts, inputs, _labels_array(label)))
        verdicts_of = _segmentation_verdicts(config, engine, [r[1] for r in rows], [r[3] for r in rows])
        for (index, counts, inputs, labels), verdicts in zip(rows, verdicts_of):
            pixels = int(np.prod(counts.shape[1:]))
            rec = {"index": index, "pixels": pixels, "input_sha256": tensor_digest(inputs),
                   "radius": list(radius.radii(counts, pixels, verdicts))}
            for key in ("certified_pixels", "abstained_pixels", "pixel_accuracy", "f_score", "iou"):
                rec[key] = [getattr(v, key) for v in verdicts]
            if certificates is not None:
                rec["certificates"] = write_input_certificates(config, index, counts, labels, inputs,
                                                               Path(certificates), model_sha)
            yield rec


def repair_certificates(prepared: PreparedRun, records: Sequence[dict], directory: Path) -> int:
    """Re-check the certificates of inputs already done; rewrite missing or broken ones (clause RUN.1).

    Classification certificates are recomputed from the counts in the record;
    segmentation ones from the input's votes, drawn again from its own seed
    (clause SAMP.3: the same counts).  Returns how many inputs were repaired.
    """
    from ..certifier import Certifier

    config = prepared.config
    broken = [rec for rec in records
              if any(not certificate_ok(Path(directory) / name) for name in rec.get("certificates", []))]
    if not broken:
        return 0
    certifier = None
    for rec in broken:
        index = rec["index"]
        inputs, label = _item(prepared.dataset, index, config)
        if config.task is Task.CLASSIFICATION:
            counts, labels = rec["counts"], None
        else:
            certifier = certifier or Certifier(
                prepared.model, config.plan, config.task, config.classes, n_samples=config.n_samples,
                batch_size=config.batch_size, seed=config.seed, device=prepared.runtime.device,
                **config.certifier_options())
            counts, labels = certifier.votes(inputs, index), _labels_array(label)
        write_input_certificates(config, index, counts, labels, inputs, Path(directory),
                                 prepared.identity["model_sha256"])
    return len(broken)


# --------------------------------------------------------------------------- progress

class _Progress:
    """A tqdm bar on a terminal; otherwise a log line every ``every`` seconds (clause RUN.8)."""

    def __init__(self, total: int, name: str, progress: bool | None, log, every: float) -> None:
        self.total, self.name, self.log, self.every = total, name, log, every
        self.done = 0
        self.start = self.last = time.monotonic()
        self.bar = None
        tty = sys.stderr.isatty()
        if total and progress is not False and (progress or tty):
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=name, unit="input")
        self.lines = total and progress is not False and self.bar is None and log is not None

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.lines:
            now = time.monotonic()
            if now - self.last >= self.every or self.done == self.total:
                rate = self.done / max(now - self.start, 1e-9)
                eta = (self.total - self.done) / rate
                self.log(f"{self.name}: {self.done}/{self.total} inputs, {now - self.start:.0f} s, "
                         f"{rate:.2f} inputs/s, about {eta:.0f} s left")
                self.last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- execute

def default_out(config_path: str | Path, shard: Shard) -> Path:
    """``CONFIG-STEM[.shard-i-of-n].jsonl`` in the current directory."""
    suffix = "" if shard.count == 1 else f".shard-{shard.index}-of-{shard.count}"
    return Path(f"{Path(config_path).stem}{suffix}.jsonl")


def _check_existing(out: Path, header: dict, shard: Shard, total: int):
    existing = read_run_file(out)
    fmt = existing.header.get("format")
    if fmt == LEGACY_FORMAT:
        raise InputFileError(
            f"{out} was written by an earlier mmcert-verified ({LEGACY_FORMAT}, whose lines carry no digests "
            f"and whose config identity differs); it is left as it is: give another --out to run again "
            f"(mmcert report still reads it)"
        )
    if existing.header.get("identity_sha256") != header["identity_sha256"]:
        theirs, ours = existing.header.get("identity", {}), header["identity"]
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise InputFileError(
            f"{out} was written for a different config (differs in: {', '.join(diff) or 'identity'}); "
            "give another --out (it is left as it is)"
        )
    if existing.header.get("shard") != header["shard"] or existing.header.get("inputs") != total:
        raise InputFileError(
            f"{out} holds shard {existing.header.get('shard')} of {existing.header.get('inputs')} inputs, "
            f"not {header['shard']} of {total}; give another --out"
        )
    if bool(existing.header.get("certificates")) != header["certificates"]:
        state = "with" if existing.header.get("certificates") else "without"
        raise InputFileError(f"{out} was started {state} --certificates; resume it the same way")
    stray = [i for i in existing.lines if i % shard.count != shard.index]
    if stray:
        raise InputFileError(f"{out} holds input {stray[0]}, which is not in shard {shard.index}/{shard.count}")
    return existing


def execute(
    config: RunConfig,
    out: str | Path,
    shard: Shard = Shard(),
    limit: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    certificates: str | Path | None = None,
    log_every: float = 30.0,
) -> RunSummary:
    """Run (or resume) ``config`` on ``shard``, appending one sealed, flushed line per input to ``out``.

    ``limit`` certifies at most that many new inputs in this call (the rest
    are left for a later resume).  An existing ``out`` must be a run file of
    the same identity and shard; its lines are checked (digests), a cut-off
    last line is dropped and redone.  ``progress``: None = a bar on a
    terminal, else a line to ``log`` every ``log_every`` seconds.
    """
    from ...atomic_io import FileLock, append_line, write_atomic

    out = Path(out)
    if limit is not None and limit < 0:
        raise InvalidParameterError(f"--limit must be non-negative, got {limit}")
    if out.exists() and out.is_dir():
        raise InputFileError(f"{out} is a directory; give a file name with --out")
    if out.exists():
        read_run_file(out)  # refuse a file that is not ours before building anything
    prepared = prepare(config)
    total = prepared.total
    header = run_header(config.canonical(), prepared.identity, prepared.identity_sha256, total, shard,
                        certificates is not None)
    with FileLock(out):
        done: dict[int, str] = {}
        repaired = 0
        if out.exists():
            existing = _check_existing(out, header, shard, total)
            done = existing.lines
            if existing.partial_tail:
                with out.open("r+b") as fh:  # drop the line an interruption cut short
                    fh.truncate(existing.complete_bytes)
                if log:
                    log(f"{out}: dropped a partial last line (it will be redone)")
            if certificates is not None and done:
                repaired = repair_certificates(prepared, existing.records(), Path(certificates))
                if repaired and log:
                    log(f"{certificates}: rewrote the missing or broken certificates of {repaired} input(s)")
        else:
            write_atomic(out, (dumps(header) + "\n").encode(), replace=False, point="header")
        todo = [i for i in shard.indices(total) if i not in done]
        todo_now = todo if limit is None else todo[:limit]
        bar = _Progress(len(todo_now), out.name, progress, log, log_every)
        newly = 0
        try:
            with out.open("ab") as fh:
                for record in certify_records(config, todo_now, certificates=certificates, prepared=prepared):
                    append_line(fh, (dumps(seal_record(prepared.identity_sha256, record)) + "\n").encode())
                    newly += 1
                    bar.update()
        finally:
            bar.close()
    return RunSummary(str(out), total, len(shard.indices(total)), len(done), newly, len(todo) - newly, repaired)


__all__ = ["FORMAT", "PreparedRun", "RunSummary", "certificate_ok", "certify_records", "default_out", "execute",
           "prepare", "repair_certificates", "write_input_certificates"]
