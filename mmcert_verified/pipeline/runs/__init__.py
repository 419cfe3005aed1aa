"""Data-set runs: a strict TOML config, one self-checking JSON line per input, resume, shards and merge.

A run certifies every input of a data set against a list of budgets and
writes a JSON-lines file (:mod:`.run_file`): a header and then one sealed
line per input, flushed as soon as it is certified.  Input ``i``'s votes
come from its own seeded stream (clause SAMP.3), so

* **resume**: rerunning the same command skips inputs whose lines are in the
  file; a last line cut short by an interruption is dropped and redone;
* **shards**: ``--shard i/n`` takes the inputs with ``index % n == i``;
* **merge**: the shard files joined and sorted by index are byte for byte the
  file one unsharded run writes.

Modules: :mod:`.config` (the TOML schema, shards), :mod:`.identity` (what
results depend on), :mod:`.run_file` (format, digests, defensive reading),
:mod:`.execute` (validate, lock, write), :mod:`.merge`, :mod:`.summary`,
:mod:`.launch` (the shard from torchrun / SLURM variables), :mod:`.distributed`
(torchrun ranks joined by rank 0).  The guarantees are spec clauses RUN.1-RUN.9
(``spec/clauses.md``).
"""

from __future__ import annotations

from .config import Engine, Factory, RunConfig, Shard, budgets_json, load_config, parse_config
from .execute import RunSummary, certify_records, default_out, execute, prepare, write_input_certificates
from .merge import MergeSummary, merge
from .run_file import FORMAT, LEGACY_FORMAT, RunFile, read_run_file, run_header
from .summary import summarize

__all__ = [
    "FORMAT", "LEGACY_FORMAT", "Engine", "Factory", "MergeSummary", "RunConfig", "RunFile", "RunSummary", "Shard",
    "budgets_json", "certify_records", "default_out", "execute", "load_config", "merge", "parse_config",
    "prepare", "read_run_file", "run_header", "summarize", "write_input_certificates",
]
