"""W&B's public Python surface against runhive's: writes docs/WANDB-COMPAT.md.

    python tools/wandb_compat.py --wandb-python /tmp/venv-wandb/bin/python          # (re)write the page
    python tools/wandb_compat.py --wandb-python /tmp/venv-wandb/bin/python --check  # exit 1 if it is stale

Run it with the project's interpreter (the one that imports `runhive`). `--wandb-python` is the interpreter of
a throwaway virtualenv with `wandb` installed; this same file runs there with `--introspect-wandb` and prints,
as JSON, W&B's names: the top-level `wandb` module, `wandb.init()`'s arguments, `wandb.Settings` fields, the
run object, `wandb.config`, `wandb.summary`, `Artifact`, `Table`, `wandb.plot`, `wandb.Api` and the objects of
`wandb.apis.public`, the `wandb` CLI's commands, and the module paths and package checks that the Hugging
Face, Lightning, Accelerate and Ray integrations rely on. `--wandb-json FILE` reads that JSON from a file
instead (`--dump-wandb-json FILE` writes it), so the page can be rebuilt without a wandb install.

Each W&B name is then looked up in runhive (tolerant of absences: a lookup that fails is "absent") and given a
status from tools/wandb_compat_status.toml, the hand-kept file: supported | partial | no-op | not-planned |
missing, with a short note. A name runhive has and the file does not mention is "supported"; one it lacks is
"missing". Where the file disagrees with what the lookup found (says missing but runhive has the name, or says
supported but it is absent), the page flags the row so the file gets updated. Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import fnmatch
import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATUS = ROOT / "tools" / "wandb_compat_status.toml"
DEFAULT_OUTPUT = ROOT / "docs" / "WANDB-COMPAT.md"
COMMAND = "python tools/wandb_compat.py --wandb-python PATH/TO/WANDB-VENV/bin/python"

STATUSES = ("supported", "partial", "no-op", "not-planned", "missing")

# Dunder methods that are part of how user code uses an object (`with`, `len`, `[]`, iteration).
DUNDERS = (
    "__call__",
    "__contains__",
    "__delitem__",
    "__enter__",
    "__exit__",
    "__getattr__",
    "__getitem__",
    "__iter__",
    "__len__",
    "__setitem__",
)

# Names W&B's dir() does not show but user code and integrations use: private ones that integrations reach for
# (file:line in the integrations installed beside wandb 0.31), and attributes that wandb.apis.public objects
# answer through __getattr__ over the attributes the server sent (`run.tags`, `run.created_at`, ...).
_VIA_GETATTR = "via __getattr__ over the attributes the server sent"
EXTRA_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "wandb": (("_attach", "private; lightning/pytorch/loggers/wandb.py:405-407, hasattr-guarded"),),
    "Run": (
        ("_attach_id", "private; lightning/pytorch/loggers/wandb.py:369 (ddp_spawn pickling)"),
        ("_label", "private; transformers integration_utils.py:778 run._label(code='transformers_trainer')"),
    ),
    "Config": (("_items", "private; transformers integration_utils.py:478 vars(wandb.config)['_items']"),),
    "public.Run": tuple(
        (name, _VIA_GETATTR)
        for name in (
            "commit",
            "created_at",
            "description",
            "display_name",
            "group",
            "heartbeat_at",
            "history_keys",
            "history_line_count",
            "job_type",
            "notes",
            "read_only",
            "tags",
        )
    ),
    "public.Sweep": (("state", _VIA_GETATTR),),
}

# Module paths and package checks the integrations import or probe, and who does it.
INTEGRATION_IMPORTS: tuple[tuple[str, str], ...] = (
    (
        "metadata:wandb",
        "importlib.metadata: Lightning RequirementCache('wandb>=0.12.10'), Accelerate metadata()",
    ),
    ("wandb.env:set_entity", "transformers integration_utils.py:507-510 (hp search with sweep_id)"),
    ("wandb.env:set_project", "transformers integration_utils.py:507-511 (hp search with sweep_id)"),
    ("wandb.sdk.artifacts.artifact:Artifact", "runhive's own alias table (common import path)"),
    ("wandb.sdk.data_types.base_types.wb_value:WBValue", "ray/air/integrations/wandb.py:29"),
    ("wandb.sdk.data_types.histogram:Histogram", "runhive's own alias table (common import path)"),
    ("wandb.sdk.data_types.image:Image", "ray/air/integrations/wandb.py:30"),
    ("wandb.sdk.data_types.video:Video", "ray/air/integrations/wandb.py:31"),
    ("wandb.sdk.lib.config_util:ConfigError", "transformers integration_utils.py:736"),
    ("wandb.sdk.lib.disabled:RunDisabled", "runhive's own alias table"),
    ("wandb.sdk.lib:RunDisabled", "lightning/pytorch/loggers/wandb.py:45,390"),
    ("wandb.sdk.wandb_run:Run", "runhive's own alias table (common import path)"),
    ("wandb.util:json_dumps_safer", "ray/air/integrations/wandb.py:32"),
    ("wandb.wandb_run:Run", "lightning wandb.py:46,391; ray wandb.py:33"),
)

Names = dict[str, dict[str, str]]  # name -> {"kind": ..., "doc": ...}


@dataclasses.dataclass(frozen=True)
class Surface:
    key: str
    title: str
    kind: str  # module | class | settings | signature | cli | imports


SURFACES: tuple[Surface, ...] = (
    Surface("wandb", "Top-level `wandb` names", "module"),
    Surface("init", "`wandb.init()` arguments", "signature"),
    Surface("Settings", "`wandb.Settings` fields", "settings"),
    Surface("Run", "The run object (`wandb.Run`, `wandb.sdk.wandb_run.Run`)", "class"),
    Surface("Config", "`wandb.config` / `run.config` (`wandb.sdk.wandb_config.Config`)", "class"),
    Surface("Summary", "`wandb.summary` / `run.summary` (`wandb.sdk.wandb_summary.Summary`)", "class"),
    Surface("Artifact", "`wandb.Artifact`", "class"),
    Surface("Table", "`wandb.Table`", "class"),
    Surface("plot", "`wandb.plot` functions", "module"),
    Surface("Api", "`wandb.Api()`", "class"),
    Surface("public.Run", "`wandb.apis.public.Run` (what `Api().run()` returns)", "class"),
    Surface("public.Runs", "`wandb.apis.public.Runs` (what `Api().runs()` returns)", "class"),
    Surface("public.Project", "`wandb.apis.public.Project`", "class"),
    Surface("public.Sweep", "`wandb.apis.public.Sweep`", "class"),
    Surface("public.File", "`wandb.apis.public.File`", "class"),
    Surface("cli", "`wandb` command-line commands", "cli"),
    Surface(
        "imports",
        "Module paths and package checks that integrations rely on (`RUNHIVE_AS_WANDB=1`)",
        "imports",
    ),
)


# ----------------------------------------------------------------------------------------------------
# Introspection helpers, used in both interpreters.


def first_line(doc: str | None, limit: int = 100) -> str:
    for line in (doc or "").strip().splitlines():
        line = line.strip()
        if line and not line.startswith("<!--"):
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def kind_of(obj: Any) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if isinstance(obj, property):
        return "property"
    if isinstance(obj, (staticmethod, classmethod)) or inspect.isroutine(obj):
        return "function"
    return "object"


def _source_attributes(cls: type) -> set[str]:
    """Instance attributes a class (or a base of it, other than object) stores as `self.x` (plain, annotated or
    tuple-unpacking assignments, `for self.x in`, `with ... as self.x`), read from its source."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(base)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names


def class_names(cls: type) -> dict[str, str]:
    """Every name an instance of `cls` answers, mapped to its kind (method, property, attribute)."""
    out: dict[str, str] = {}
    for name in dir(cls):
        if name.startswith("__") and name not in DUNDERS:
            continue
        if name in DUNDERS and not any(name in vars(b) for b in cls.__mro__ if b is not object):
            continue
        try:
            static = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        kind = kind_of(static)
        out[name] = {"function": "method", "property": "property"}.get(kind, "attribute")
    for name in _source_attributes(cls):
        out.setdefault(name, "attribute")
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            out.setdefault(f.name, "attribute")
    for base in cls.__mro__:
        for name in getattr(base, "__annotations__", {}) if base is not object else {}:
            out.setdefault(name, "attribute")
    return out


def _member_doc(cls: type, name: str) -> str:
    try:
        static = inspect.getattr_static(cls, name)
    except AttributeError:
        return ""
    if isinstance(static, property):
        return first_line(inspect.getdoc(static.fget) if static.fget else None)
    if isinstance(static, (staticmethod, classmethod)):
        static = static.__func__
    if inspect.isroutine(static):
        return first_line(inspect.getdoc(static))
    return ""


def _public(name: str, extras: Iterable[str] = ()) -> bool:
    return not name.startswith("_") or name in DUNDERS or name in extras


def _lookup(path: str) -> Any:
    """`package.module:attr.attr` (or a bare module path) -> the object. Raises on any failure."""
    module, _, attrs = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attrs.split(".") if attrs else ():
        obj = getattr(obj, part)
    return obj


def _resolve(candidates: Iterable[str]) -> tuple[str | None, Any, str]:
    """The first candidate that resolves: (its path, the object, ""), or (None, None, what broke).

    A candidate that is simply not there (no such module or attribute) is skipped quietly; any other failure
    (a module that exists but does not import) is reported, since it hides names runhive may well have."""
    broken = ""
    for path in candidates:
        try:
            return path, _lookup(path), ""
        except AttributeError:
            continue
        except ModuleNotFoundError as exc:
            module = path.partition(":")[0]
            if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
                continue
            broken = broken or f"{path}: {type(exc).__name__}: {exc}"
        except Exception as exc:
            broken = broken or f"{path}: {type(exc).__name__}: {exc}"
    return None, None, broken


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def stable_repr(value: Any) -> str:
    """repr() without memory addresses, so the page does not change from one run to the next."""
    return _ADDRESS.sub("", repr(value))


# ----------------------------------------------------------------------------------------------------
# The wandb side (runs in the wandb virtualenv).


def _wandb_class(cls: type, key: str) -> Names:
    extras = dict(EXTRA_NAMES.get(key, ()))
    out: Names = {}
    for name, kind in class_names(cls).items():
        if _public(name, extras):
            out[name] = {"kind": kind, "doc": _member_doc(cls, name)}
    for name, doc in extras.items():
        if name in out:
            out[name]["doc"] = doc
        else:
            out[name] = {"kind": "attribute", "doc": doc}
    return out


def _wandb_module(mod: Any, names: Iterable[str]) -> Names:
    import __future__

    out: Names = {}
    for name in sorted(set(names)):
        try:
            obj = getattr(mod, name)
        except Exception:
            continue
        if isinstance(obj, __future__._Feature):  # `from __future__ import annotations` leaks into dir()
            continue
        kind = kind_of(obj)
        if kind == "class":  # its own docstring, not one inherited from Enum or a base class
            doc = first_line(inspect.cleandoc(vars(obj).get("__doc__") or ""))
        else:
            doc = "" if kind == "object" else first_line(inspect.getdoc(obj))
        out[name] = {"kind": kind, "doc": doc}
    return out


def _wandb_settings() -> Names:
    import wandb

    out: Names = {}
    for name, field in wandb.Settings.model_fields.items():
        default = field.default
        if field.default_factory is not None:
            default = "<computed>"
        elif name.endswith("_pid") or default == os.getpid():  # x_stats_pid: the importing process
            default = "<this process's pid>"
        type_text = str(field.annotation).replace("typing.", "")
        type_text = re.sub(r"<class '([\w.]+)'>", r"\1", type_text)
        doc = first_line(field.description, 80)
        out[name] = {"kind": f"{type_text} = {stable_repr(default)}", "doc": doc}
    return out


def _wandb_cli() -> Names:
    from wandb.cli import cli

    out: Names = {}

    def walk(group: Any, prefix: str) -> None:
        for name, cmd in sorted(group.commands.items()):
            full = f"{prefix}{name}"
            is_group = hasattr(cmd, "commands")
            out[full] = {
                "kind": "group" if is_group else "command",
                "doc": first_line(cmd.help or cmd.short_help),
            }
            if is_group:
                walk(cmd, f"{full} ")

    walk(cli.cli, "")
    return out


def _wandb_imports() -> Names:
    import importlib.metadata

    out: Names = {}
    for item, who in INTEGRATION_IMPORTS:
        if item.startswith("metadata:"):
            try:
                version = importlib.metadata.version(item.split(":", 1)[1])
            except importlib.metadata.PackageNotFoundError:
                continue
            out[item] = {"kind": "metadata", "doc": f"version {version}; {who}"}
            continue
        try:
            obj = _lookup(item)
        except Exception:
            continue
        out[item] = {"kind": kind_of(obj), "doc": who}
    return out


def introspect_wandb() -> dict[str, Any]:
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDB_MODE", "disabled")
    import wandb
    import wandb.apis.public as public
    import wandb.plot
    from wandb.sdk import wandb_config, wandb_run, wandb_summary

    top = set(getattr(wandb, "__all__", ())) | {n for n in dir(wandb) if not n.startswith("_")}
    top |= {name for name, _ in EXTRA_NAMES["wandb"]}
    init_params: Names = {}
    for name, param in inspect.signature(wandb.init).parameters.items():
        default = "" if param.default is inspect.Parameter.empty else f" = {stable_repr(param.default)}"
        init_params[name] = {"kind": "argument", "doc": f"{param.annotation}{default}"[:100]}
    surfaces: dict[str, Names] = {
        "wandb": _wandb_module(wandb, top),
        "init": init_params,
        "Settings": _wandb_settings(),
        "Run": _wandb_class(wandb_run.Run, "Run"),
        "Config": _wandb_class(wandb_config.Config, "Config"),
        "Summary": _wandb_class(wandb_summary.Summary, "Summary"),
        "Artifact": _wandb_class(wandb.Artifact, "Artifact"),
        "Table": _wandb_class(wandb.Table, "Table"),
        "plot": _wandb_module(wandb.plot, wandb.plot.__all__),
        "Api": _wandb_class(wandb.Api, "Api"),
        "public.Run": _wandb_class(public.Run, "public.Run"),
        "public.Runs": _wandb_class(public.Runs, "public.Runs"),
        "public.Project": _wandb_class(public.Project, "public.Project"),
        "public.Sweep": _wandb_class(public.Sweep, "public.Sweep"),
        "public.File": _wandb_class(public.File, "public.File"),
        "cli": _wandb_cli(),
        "imports": _wandb_imports(),
    }
    return {"wandb_version": wandb.__version__, "surfaces": surfaces}


def run_wandb_side(python: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNHIVE_", "PYTHONPATH"))}
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--introspect-wandb"],
        capture_output=True,
        text=True,
        env=env,
        cwd=os.path.dirname(os.path.abspath(python)),
        timeout=600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"introspecting wandb with {python} failed:\n{proc.stderr.strip()}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


# ----------------------------------------------------------------------------------------------------
# The runhive side (runs in this interpreter).


@dataclasses.dataclass
class Found:
    where: str | None  # the runhive object that answered, or None
    names: set[str]
    error: str = ""


def _runhive_module(candidates: list[str], wanted: Iterable[str]) -> Found:
    where, mod, error = _resolve(candidates)
    if mod is None:
        return Found(None, set(), error)
    names = set()
    for name in wanted:
        try:
            getattr(mod, name)
        except Exception:
            continue
        names.add(name)
    return Found(where, names)


def _runhive_class(candidates: list[str]) -> Found:
    where, cls, error = _resolve(candidates)
    if cls is None or not inspect.isclass(cls):
        return Found(None, set(), error)
    return Found(where, set(class_names(cls)))


def _runhive_settings(candidates: list[str]) -> Found:
    found = _runhive_class(candidates)
    if found.where is None:
        return found
    cls = _lookup(found.where)
    found.names |= set(getattr(cls, "model_fields", {}))
    return found


def _runhive_signature(candidates: list[str]) -> Found:
    # The first candidate whose signature names its arguments (a `(*args, **kwargs)` forwarder does not).
    for path in candidates:
        try:
            params = inspect.signature(_lookup(path)).parameters
        except Exception:
            continue
        named = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if named:
            return Found(path, named)
    return Found(None, set())


_SUBCOMMANDS = re.compile(r"\{([\w,\-]+)\}")


def _cli_subcommands(argv: list[str]) -> set[str] | None:
    try:
        proc = subprocess.run(
            [*argv, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "RUNHIVE_PRELOAD": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _SUBCOMMANDS.search(proc.stdout)
    return set(match.group(1).split(",")) if proc.returncode == 0 and match else None


def _runhive_cli(wanted: Names) -> Found:
    exe = Path(sys.executable).parent / "runhive"
    program = str(exe) if exe.exists() else shutil.which("runhive")
    if program is None:
        return Found(None, set(), "no `runhive` command found")
    top = _cli_subcommands([program])
    if top is None:
        return Found(None, set(), "`runhive --help` listed no subcommands")
    names = set(top)
    # Subcommands of a W&B group that runhive also has, e.g. `artifact get`.
    for group in sorted(n for n, info in wanted.items() if info["kind"] == "group" and " " not in n):
        if group in names:
            sub = _cli_subcommands([program, group]) or set()
            names |= {f"{group} {s}" for s in sub}
    return Found("runhive --help", names)


def _runhive_imports(candidates: list[str], wanted: Iterable[str]) -> Found:
    where, alias, error = _resolve(candidates)
    if alias is None:
        return Found(None, set(), error)
    shims: Mapping[str, Any] = getattr(alias, "_SHIMS", {})
    names = set()
    for item in wanted:
        if item.startswith("metadata:"):
            # The alias answers importlib.metadata if one of its finders implements find_distributions.
            if any(
                hasattr(obj, "find_distributions") for obj in vars(alias).values() if inspect.isclass(obj)
            ):
                names.add(item)
            continue
        module, _, attr = item.partition(":")
        if module not in shims:
            continue
        shim = shims[module]
        if not attr or (shim is not None and attr in shim[1]):
            names.add(item)
    return Found(where, names)


def _runhive_surface(kind: str, candidates: list[str], wanted: Names) -> Found:
    if kind == "module":
        return _runhive_module(candidates, wanted)
    if kind == "class":
        return _runhive_class(candidates)
    if kind == "settings":
        return _runhive_settings(candidates)
    if kind == "signature":
        return _runhive_signature(candidates)
    if kind == "cli":
        return _runhive_cli(wanted)
    if kind == "imports":
        return _runhive_imports(candidates, wanted)
    raise ValueError(f"unknown surface kind {kind!r}")


def introspect_runhive(status: Mapping[str, Any], wandb_side: Mapping[str, Names]) -> dict[str, Found]:
    os.environ.setdefault("RUNHIVE_PRELOAD", "0")
    try:
        import runhive  # noqa: F401
    except Exception as exc:
        raise SystemExit(f"cannot import runhive in {sys.executable}: {exc!r}") from None
    out: dict[str, Found] = {}
    for surface in SURFACES:
        candidates = list(status.get(surface.key, {}).get("runhive", []))
        wanted = wandb_side.get(surface.key, {})
        out[surface.key] = _runhive_surface(surface.kind, candidates, wanted)
    return out


# ----------------------------------------------------------------------------------------------------
# Status file and the page.


def load_status(path: Path) -> dict[str, Any]:
    if path.suffix == ".json":
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    import tomllib  # Python 3.11+

    with path.open("rb") as f:
        loaded: dict[str, Any] = tomllib.load(f)
    return loaded


@dataclasses.dataclass
class Row:
    name: str
    status: str
    note: str
    wandb: str


def _entry(names: Mapping[str, Any], name: str) -> tuple[str, str] | None:
    """The status file's (status, note) for a name: an exact key first, then the first matching glob."""
    raw = names.get(name)
    if raw is None:
        for pattern, value in names.items():
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern):
                raw = value
                break
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw, ""
    return str(raw.get("status", "")), str(raw.get("note", ""))


def build_rows(
    wandb_names: Names, found: Found, names_status: Mapping[str, Any]
) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    problems: list[str] = []
    for name in sorted(wandb_names):
        info = wandb_names[name]
        present = name in found.names
        entry = _entry(names_status, name)
        if entry is None:
            status, note = ("supported" if present else "missing"), ""
        else:
            status, note = entry
            if status not in STATUSES:
                problems.append(f"{name}: unknown status {status!r}")
            if present and status in ("missing", "not-planned"):
                note = f"⚠ runhive has it now: update the status file. {note}".strip()
            elif not present and status == "supported":
                note = f"⚠ not found in runhive. {note}".strip()
        wandb_text = info["kind"] + (f": {info['doc']}" if info.get("doc") else "")
        rows.append(Row(name, status, note, wandb_text))
    for key in names_status:
        is_glob = any(c in key for c in "*?[")
        if (is_glob and not any(fnmatch.fnmatchcase(n, key) for n in wandb_names)) or (
            not is_glob and key not in wandb_names
        ):
            problems.append(f"status entry {key!r} matches no W&B name")
    return rows, problems


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render(
    wandb_data: Mapping[str, Any], status: Mapping[str, Any], found: Mapping[str, Found]
) -> tuple[str, list[str]]:
    sections: list[str] = []
    summary: list[tuple[str, dict[str, int]]] = []
    problems: list[str] = []
    for surface in SURFACES:
        conf = status.get(surface.key, {})
        wandb_names: Names = wandb_data["surfaces"].get(surface.key, {})
        rows, bad = build_rows(wandb_names, found[surface.key], conf.get("names", {}))
        problems += [f"[{surface.key}] {p}" for p in bad]
        counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
        summary.append((surface.key, counts))
        where = found[surface.key].where
        lines = [f"## {surface.title}", ""]
        if conf.get("about"):
            lines += [str(conf["about"]).strip(), ""]
        tried = ", ".join(f"`{c}`" for c in conf.get("runhive", [])) or "nothing listed"
        if where:
            lines.append(f"runhive side: `{where}`.")
        else:
            reason = found[surface.key].error
            lines.append(f"runhive side: none found (tried {tried}){f'; {reason}' if reason else ''}.")
        lines += ["", "| name | status | note | W&B |", "|---|---|---|---|"]
        for r in rows:
            lines.append(f"| `{_cell(r.name)}` | {r.status} | {_cell(r.note)} | {_cell(r.wandb)} |")
        sections.append("\n".join(lines))

    head = [
        "# W&B API compatibility",
        "",
        "What of Weights & Biases' public Python surface runhive has, name by name. Generated; do not edit",
        "by hand: change `tools/wandb_compat_status.toml` (the status and note of a name) and run",
        "",
        f"    {COMMAND}",
        "",
        f"W&B version compared: **{wandb_data['wandb_version']}**. Statuses: `supported` (works as in W&B),",
        "`partial` (works with the limits in the note), `no-op` (accepted, does nothing), `not-planned`",
        "(W&B-cloud or team-server only, or out of scope; the note says why), `missing` (not there yet).",
        "A name runhive has that the status file does not mention counts as supported; ⚠ marks a status",
        "the lookup contradicts.",
        "",
        "| surface | " + " | ".join(STATUSES) + " | total |",
        "|---|" + "---:|" * (len(STATUSES) + 1),
    ]
    totals = dict.fromkeys(STATUSES, 0)
    for key, counts in summary:
        title = next(s.title for s in SURFACES if s.key == key)
        anchor = re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")
        cells = " | ".join(str(counts[s]) for s in STATUSES)
        head.append(f"| [{key}](#{anchor}) | {cells} | {sum(counts.values())} |")
        for s in STATUSES:
            totals[s] += counts[s]
    head.append(
        "| **all** | " + " | ".join(f"**{totals[s]}**" for s in STATUSES) + f" | **{sum(totals.values())}** |"
    )
    text = "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"
    return text, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--wandb-python", help="python of a virtualenv with wandb installed")
    parser.add_argument("--wandb-json", type=Path, help="read W&B's surface from this JSON instead")
    parser.add_argument("--dump-wandb-json", type=Path, help="also write W&B's surface as JSON here")
    parser.add_argument("--status", type=Path, default=DEFAULT_STATUS)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file differs from what it would be"
    )
    parser.add_argument(
        "--allow-broken", action="store_true", help="write the page even if a runhive module fails to import"
    )
    parser.add_argument("--introspect-wandb", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.introspect_wandb:
        json.dump(introspect_wandb(), sys.stdout, sort_keys=True)
        return 0
    if args.wandb_json:
        wandb_data = json.loads(args.wandb_json.read_text())
    elif args.wandb_python:
        wandb_data = run_wandb_side(args.wandb_python)
    else:
        parser.error("give --wandb-python (or --wandb-json)")
    if args.dump_wandb_json:
        args.dump_wandb_json.write_text(json.dumps(wandb_data, indent=1, sort_keys=True) + "\n")

    status = load_status(args.status)
    found = introspect_runhive(status, wandb_data["surfaces"])
    text, problems = render(wandb_data, status, found)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    broken = [f"[{key}] {f.error}" for key, f in found.items() if f.error]
    if broken and not args.allow_broken:
        # A runhive module that exists but does not import is not an absence: a page written now would call
        # everything behind it missing.
        for b in broken:
            print(f"error: runhive lookup failed: {b}", file=sys.stderr)
        print("not writing the page (--allow-broken writes it anyway)", file=sys.stderr)
        return 2

    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current == text:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), text.splitlines(), str(args.output), "generated", lineterm="", n=0
        )
        print("\n".join(list(diff)[:60]), file=sys.stderr)
        print(f"{args.output} is out of date; run: {COMMAND}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} (wandb {wandb_data['wandb_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
