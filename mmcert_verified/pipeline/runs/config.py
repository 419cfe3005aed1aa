"""Run configs: a strict TOML schema, the parsed :class:`RunConfig`, and shards (clause RUN.5).

Config (TOML)::

    task = "classification"              # or "segmentation"
    classes = 7
    certificates = "per-input"           # optional: --certificates writes one file per input (CERT.4)
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
    bound = "bonferroni"                 # or "complement", "combined" (clauses CP.4-CP.7)
    batch_size = 100; seed = 0; device = "cpu"; engine = "auto"
    pack_inputs = false; autocast = "none"; compile = false   # throughput, opt-in
    [budgets]
    attack = "modify"                    # or one per modality
    r = [[0, 0], [1, 1]]                 # explicit budgets, and/or
    ratios = [[1, 1], [1, 2]]            # r = t * ratio for every t in steps
    steps = [0, 1, 2, 3]

``file.py`` paths are relative to the config file.  Every table accepts only
the keys above: an unknown key is an error naming it and the nearest valid
key (clause RUN.5), so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import importlib
import importlib.util
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ...errors import InputFileError, InvalidParameterError, MMCertError
from ...sampling.modality import Ablation, Modality
from ...sampling.plan import SamplingPlan
from ...threat_model import Budget, Method, parse_attacks
from ..certifier import Task


class Engine(str, enum.Enum):
    """Which certification engine a run uses (``certify.engine``)."""

    AUTO = "auto"  # the fast engine where installed (segmentation), else the reference
    REFERENCE = "reference"
    FAST = "fast"


#: the keys each table of a config accepts (clause RUN.5)
TOP_KEYS = ("task", "classes", "model", "data", "modalities", "certify", "budgets", "certificates")
#: how ``--certificates`` lays out its files: one per (input, budget) (CERT.1) or one per input (CERT.4)
CERTIFICATE_LAYOUTS = ("per-budget", "per-input")
FACTORY_KEYS = ("factory", "kwargs")
MODALITY_KEYS = ("name", "shape", "element_dims", "channel_dim", "fill", "mask_channel")
CERTIFY_KEYS = ("method", "k", "N", "alpha", "bound", "batch_size", "seed", "device", "engine", "pack_inputs",
                "autocast", "compile")
#: the bound methods a run config may name (``certify.bound``; clause CP.5, mirrors ``bounds.BoundName``)
BOUND_NAMES = ("bonferroni", "complement", "combined")
BUDGET_KEYS = ("attack", "r", "ratios", "steps")
_SECTION_OF = {
    **{k: "[certify]" for k in CERTIFY_KEYS},
    **{k: "[budgets]" for k in BUDGET_KEYS},
    **{k: "[[modalities]]" for k in MODALITY_KEYS},
    **{k: "[model] / [data]" for k in FACTORY_KEYS},
    **{k: "the top level" for k in TOP_KEYS},
}


def check_keys(table: dict, valid: Sequence[str], where: str) -> None:
    """Clause RUN.5: refuse a key not in ``valid``, naming the nearest valid one (difflib)."""
    for key in table:
        if key in valid:
            continue
        close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
        if not close:  # a case slip ("n" for "N") is not a typo difflib scores highly
            close = [v for v in valid if v.lower() == str(key).lower()][:1]
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif key in _SECTION_OF:
            hint = f"'{key}' belongs in {_SECTION_OF[key]}"
        else:
            hint = "valid keys: " + ", ".join(valid)
        raise InvalidParameterError(f"{where}: unknown key '{key}' ({hint})")


# --------------------------------------------------------------------------- factories

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
        try:
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
                module = importlib.import_module(module_name)
        except MMCertError:
            raise
        except ImportError as exc:
            raise InputFileError(f"cannot import {module_name!r} for factory {self.spec!r}: {exc}") from None
        except Exception as exc:  # the user's module failed while loading
            raise InputFileError(f"loading {module_name!r} for factory {self.spec!r} failed: "
                                 f"{type(exc).__name__}: {_first_line(exc)}") from None
        try:
            return getattr(module, attr)
        except AttributeError:
            raise InputFileError(f"{module_name!r} has no {attr!r} (factory {self.spec!r})") from None

    def build(self, **extra) -> Any:
        """Call the factory with its keyword arguments (checked against its signature first).

        Any exception the user's factory raises (a ``load_state_dict`` mismatch,
        a missing data file) becomes one :class:`InputFileError` naming it.
        """
        import inspect

        fn = self.resolve()
        kwargs = {**self.kwargs, **extra}
        try:
            inspect.signature(fn).bind(**kwargs)
        except TypeError as exc:
            raise InvalidParameterError(f"factory {self.spec!r} does not accept {sorted(kwargs)}: {exc}") from None
        except ValueError:  # no signature available (some builtins): just call it
            pass
        try:
            return fn(**kwargs)
        except MMCertError:
            raise
        except Exception as exc:
            raise InputFileError(f"factory {self.spec!r} failed: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


# --------------------------------------------------------------------------- the config

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
    #: the budget directions (``[budgets] ratios``); each result line carries the radius along each
    ratios: tuple[tuple[int, ...], ...] = ()
    #: throughput options (``Certifier``): several inputs per forward batch, autocast dtype, torch.compile
    pack_inputs: bool = False
    autocast: str = "none"
    compile: bool = False
    #: the confidence-bound method (clauses CP.4-CP.7), fixed in the config before any vote is drawn (CP.5)
    bound: str = "bonferroni"
    #: ``certificates = "per-input"``: one certificate per input covering all its budgets (clause CERT.4)
    certificate_layout: str = "per-budget"

    def certifier_options(self) -> dict:
        """The keyword arguments :class:`~mmcert_verified.pipeline.certifier.Certifier` takes for the throughput options."""
        return {"pack_inputs": self.pack_inputs, "autocast": self.autocast, "compile_model": self.compile}

    def canonical(self) -> dict:
        """The config as plain JSON data, as written (the run file's header records it)."""
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
                # throughput options only when set: configs without them keep their identity (RUN.6)
                **({"pack_inputs": True} if self.pack_inputs else {}),
                **({"autocast": self.autocast} if self.autocast != "none" else {}),
                **({"compile": True} if self.compile else {}),
                # the bound method changes verdicts, so it is part of the identity; the default is left out,
                # so configs written before the key existed keep their identity (RUN.6)
                **({"bound": self.bound} if self.bound != "bonferroni" else {}),
            },
            "budgets": budgets_json(self.budgets),
            "ratios": [list(r) for r in self.ratios],
            # only when set: configs without the key keep their identity (RUN.6)
            **({"certificates": self.certificate_layout} if self.certificate_layout != "per-budget" else {}),
        }

    @property
    def digest(self) -> str:
        """SHA-256 of :meth:`canonical` (the config as written; a run's identity adds the runtime)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_overrides(self, **changes) -> "RunConfig":
        """A copy with some fields replaced (e.g. ``device`` from the command line)."""
        from dataclasses import replace

        return replace(self, **changes)


def budgets_json(budgets: Sequence[Budget]) -> list[dict]:
    return [{"r": list(b.r), "attack": [a.value for a in b.attack]} for b in budgets]


# --------------------------------------------------------------------------- parsing

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


def _int_list(value: Any, what: str, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in value):
        raise InvalidParameterError(f"{where}: {what} must be a list of integers, got {value!r}")
    return tuple(int(x) for x in value)


def _alpha_text(value: Any, where: str) -> str:
    """alpha as the decimal the user wrote (a TOML float is read back by its shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, (str, float, int)):
        raise InvalidParameterError(f"{where}: alpha must be a number or a decimal string")
    text = value if isinstance(value, str) else repr(value)
    from ...reference.certify import alpha_fraction

    alpha_fraction(text)  # validates (0, 1)
    return text


def _budgets(table: dict, modalities: int, where: str) -> tuple[tuple[Budget, ...], tuple[tuple[int, ...], ...]]:
    check_keys(table, BUDGET_KEYS, where)
    attack = parse_attacks(table.get("attack", "modify"), modalities)
    out: list[Budget] = []
    r_list = table.get("r", [])
    if not isinstance(r_list, list):
        raise InvalidParameterError(f"{where}: 'r' must be a list of budgets")
    for r in r_list:
        out.append(Budget(_int_list(r, "a budget", where), attack))
    ratios, steps = table.get("ratios"), table.get("steps")
    if (ratios is None) != (steps is None):
        raise InvalidParameterError(f"{where}: 'ratios' and 'steps' go together")
    parsed_ratios: list[tuple[int, ...]] = []
    if ratios is not None:
        if not isinstance(ratios, list):
            raise InvalidParameterError(f"{where}: 'ratios' must be a list of lists")
        steps_t = _int_list(steps, "'steps'", where)
        if any(t < 0 for t in steps_t):
            raise InvalidParameterError(f"{where}: steps must be non-negative")
        for ratio in ratios:
            ratio_t = _int_list(ratio, "a ratio", where)
            if len(ratio_t) != modalities:
                raise InvalidParameterError(f"{where}: ratio {list(ratio_t)} needs {modalities} entries")
            if any(c < 0 for c in ratio_t) or not any(ratio_t):
                raise InvalidParameterError(f"{where}: ratio {list(ratio_t)} must be non-negative and not all zeros")
            parsed_ratios.append(ratio_t)
            for t in steps_t:
                out.append(Budget(tuple(t * c for c in ratio_t), attack))
    unique = list(dict.fromkeys(out))
    if not unique:
        raise InvalidParameterError(f"{where}: no budgets (give 'r', or 'ratios' and 'steps')")
    for b in unique:
        if len(b.r) != modalities:
            raise InvalidParameterError(f"{where}: budget {list(b.r)} needs {modalities} entries")
        if any(x < 0 for x in b.r):
            raise InvalidParameterError(f"{where}: budget {list(b.r)} has a negative entry")
    return tuple(unique), tuple(dict.fromkeys(parsed_ratios))


def _modality(tab: Any, where: str) -> Modality:
    if not isinstance(tab, dict):
        raise InvalidParameterError(f"{where}: must be a table")
    check_keys(tab, MODALITY_KEYS, where)
    fill = tab.get("fill", 0.0)
    if isinstance(fill, bool) or not isinstance(fill, (int, float)):
        raise InvalidParameterError(f"{where}: 'fill' must be a number, got {fill!r}")
    mask = tab.get("mask_channel", True)
    if not isinstance(mask, bool):
        raise InvalidParameterError(f"{where}: 'mask_channel' must be true or false, got {mask!r}")
    channel = tab.get("channel_dim")
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int)):
        raise InvalidParameterError(f"{where}: 'channel_dim' must be an integer, got {channel!r}")
    return Modality(str(_need(tab, "name", where, str)), _int_list(_need(tab, "shape", where, list), "'shape'", where),
                    _int_list(_need(tab, "element_dims", where, list), "'element_dims'", where), channel,
                    Ablation(fill, mask))


def parse_config(doc: dict, base_dir: str | Path = ".", where: str = "config") -> RunConfig:
    """Validate a config document (see the module docstring); errors name the offending key."""
    try:
        check_keys(doc, TOP_KEYS, where)
        task = Task(str(doc.get("task", "classification")))
        classes = _int(doc, "classes", where)
        if classes < 1:
            raise InvalidParameterError(f"{where}: 'classes' must be at least 1")
        factories = []
        for section in ("model", "data"):
            tab = _need(doc, section, where, dict)
            check_keys(tab, FACTORY_KEYS, f"{where} [{section}]")
            kwargs = tab.get("kwargs", {})
            if not isinstance(kwargs, dict):
                raise InvalidParameterError(f"{where}: [{section}] kwargs must be a table")
            factories.append(Factory(str(_need(tab, "factory", f"{where} [{section}]", str)), dict(kwargs), str(base_dir)))
        mods = [_modality(tab, f"{where} modality {j + 1}") for j, tab in enumerate(_need(doc, "modalities", where, list))]
        cert = _need(doc, "certify", where, dict)
        w = f"{where} [certify]"
        check_keys(cert, CERTIFY_KEYS, w)
        method = Method(str(cert.get("method", "mmcert")))
        k = cert.get("k")
        k = (k,) if isinstance(k, int) and not isinstance(k, bool) else _int_list(_need(cert, "k", w, list), "'k'", w)
        plan = SamplingPlan(tuple(mods), k, method)
        engine = Engine(str(cert.get("engine", "auto")))
        n_samples = _int(cert, "N", w)
        batch = _int(cert, "batch_size", w, 100)
        seed = _int(cert, "seed", w, 0)
        if n_samples < 1 or batch < 1 or seed < 0:
            raise InvalidParameterError(f"{w}: N and batch_size must be positive, seed non-negative")
        device = cert.get("device", "cpu")
        if not isinstance(device, str):
            raise InvalidParameterError(f"{w}: 'device' must be a string such as \"cpu\" or \"cuda\"")
        budgets, ratios = _budgets(_need(doc, "budgets", where, dict), len(mods), f"{where} [budgets]")
        flags = {}
        for key in ("pack_inputs", "compile"):
            value = cert.get(key, False)
            if not isinstance(value, bool):
                raise InvalidParameterError(f"{w}: '{key}' must be true or false, got {value!r}")
            flags[key] = value
        autocast = cert.get("autocast", "none")
        if autocast not in ("none", "bfloat16", "float16"):
            raise InvalidParameterError(f"{w}: 'autocast' must be \"none\", \"bfloat16\" or \"float16\", got {autocast!r}")
        bound = cert.get("bound", "bonferroni")
        if bound not in BOUND_NAMES:
            raise InvalidParameterError(f"{w}: unknown bound {bound!r} (valid: {', '.join(BOUND_NAMES)})")
        return RunConfig(
            task, classes, factories[0], factories[1], plan, n_samples,
            _alpha_text(_need(cert, "alpha", w, (str, float, int)), w), batch, seed,
            device, engine, budgets, ratios, flags["pack_inputs"], autocast, flags["compile"], bound,
        ).with_overrides(certificate_layout=certificate_layout(doc.get("certificates", "per-budget"), where))
    except InvalidParameterError:
        raise
    except (ValueError, TypeError) as exc:  # Enum lookups, bad numbers, lists of the wrong kind
        raise InvalidParameterError(f"{where}: {exc}") from None


def certificate_layout(value: Any, where: str = "config") -> str:
    """``certificates``: ``"per-budget"`` (the default, clause CERT.1) or ``"per-input"`` (clause CERT.4)."""
    if value not in CERTIFICATE_LAYOUTS:
        raise InvalidParameterError(f"{where}: 'certificates' must be one of {', '.join(CERTIFICATE_LAYOUTS)}, "
                                    f"got {value!r}")
    return value


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run config."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise InputFileError(f"config {path} not found") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
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


__all__ = [
    "BOUND_NAMES", "BUDGET_KEYS", "CERTIFICATE_LAYOUTS", "CERTIFY_KEYS", "Engine", "Factory", "MODALITY_KEYS", "RunConfig", "Shard", "TOP_KEYS",
    "budgets_json", "certificate_layout", "check_keys", "load_config", "parse_config",
]
