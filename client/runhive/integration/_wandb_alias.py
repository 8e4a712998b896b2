"""`import wandb` answered by runhive, for code that imports wandb itself (Ray Tune's W&B integration, other
libraries' W&B callbacks) in processes the user does not start.

`RUNHIVE_AS_WANDB=1` switches it on: the `runhive-wandb.pth` file installed with runhive imports this module at
interpreter start-up in every process that has the variable (Ray's workers on the node inherit the driver's
environment), and this module puts a finder first on `sys.meta_path`. The finder answers `wandb` with a module
that forwards every attribute to `runhive` (so `wandb.run`, `wandb.log` follow the current run) and the module
paths integrations import names from (`wandb.sdk.data_types.image`, `wandb.util`, `wandb.wandb_run`, ...), as
real wandb keeps them "for integrations". Without the variable nothing is installed, and a real wandb, if any,
imports as usual.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

ENV = "RUNHIVE_AS_WANDB"
# The W&B release whose surface runhive answers for: `wandb.__version__` and the `wandb` distribution that
# `importlib.metadata` finds under the alias (Lightning requires wandb>=0.12.10, Accelerate any).
WANDB_VERSION = "0.31.0"

# wandb module path -> (runhive module, {wandb name: runhive name}); None: a package with nothing of its own.
# A path that others extend (wandb.sdk.lib) is a package too.
_SHIMS: dict[str, tuple[str, dict[str, str]] | None] = {
    "wandb.sdk": None,
    "wandb.sdk.data_types": None,
    "wandb.sdk.data_types.base_types": None,
    "wandb.sdk.data_types.base_types.wb_value": ("runhive.sdk.data_types._base", {"WBValue": "WBValue"}),
    "wandb.sdk.data_types.image": ("runhive.sdk.data_types._image", {"Image": "Image"}),
    "wandb.sdk.data_types.video": ("runhive.sdk.data_types._video", {"Video": "Video"}),
    "wandb.sdk.data_types.histogram": ("runhive.sdk.data_types._histogram", {"Histogram": "Histogram"}),
    "wandb.sdk.data_types.base_types.media": (
        "runhive.sdk.data_types._base",
        {"Media": "Media", "BatchableMedia": "BatchableMedia"},
    ),
    "wandb.sdk.data_types.table": ("runhive.sdk.data_types._table", {"Table": "Table"}),
    "wandb.sdk.data_types.audio": ("runhive.sdk.data_types._audio", {"Audio": "Audio"}),
    "wandb.sdk.data_types.html": ("runhive.sdk.data_types._html", {"Html": "Html"}),
    "wandb.sdk.data_types.plotly": ("runhive.sdk.data_types._plotly", {"Plotly": "Plotly"}),
    "wandb.sdk.data_types.object_3d": (
        "runhive.sdk.data_types._object3d",
        {"Object3D": "Object3D", "box3d": "box3d"},
    ),
    "wandb.sdk.data_types.molecule": ("runhive.sdk.data_types._molecule", {"Molecule": "Molecule"}),
    "wandb.data_types": (
        "runhive.sdk.data_types",
        {
            n: n
            for n in "Audio BatchableMedia Histogram Html Image Media Molecule Object3D Plotly Table".split()
        }
        | {n: n for n in "Video WBValue box3d".split()},
    ),
    "wandb.plot": (
        "runhive.plot",
        {
            n: n
            for n in "CustomChart Visualize bar confusion_matrix histogram line line_series plot_table".split()
        }
        | {n: n for n in "pr_curve roc_curve scatter visualize".split()},
    ),
    "wandb.sdk.lib": ("runhive.sdk._disabled", {"RunDisabled": "DisabledRun"}),
    "wandb.sdk.lib.disabled": ("runhive.sdk._disabled", {"RunDisabled": "DisabledRun"}),
    "wandb.sdk.lib.config_util": ("runhive.errors", {"ConfigError": "ConfigError"}),
    "wandb.sdk.wandb_config": ("runhive.sdk._config", {"Config": "Config"}),
    "wandb.sdk.wandb_summary": ("runhive.sdk._summary", {"Summary": "Summary"}),
    "wandb.sdk.wandb_require": ("runhive.sdk._run_extras", {"require": "require"}),
    "wandb.sdk.wandb_alerts": ("runhive.sdk._run_extras", {"AlertLevel": "AlertLevel"}),
    "wandb.sdk.wandb_init": ("runhive", {"init": "init", "_attach": "_attach"}),
    "wandb.errors": (
        "runhive.errors",
        {n: n for n in "Error UsageError CommError".split()} | {"UnsupportedError": "UsageError"},
    ),
    "wandb.errors.term": (
        "runhive.sdk._run_extras",
        {n: n for n in "termlog termwarn termerror".split()},
    ),
    "wandb.env": (
        "runhive.integration._wandb_env",
        {
            n: n
            for n in (
                "ANONYMOUS API_KEY APP_URL ARGS ARTIFACT_DIR BASE_URL CACHE_DIR CONFIG_DIR CONFIG_PATHS DATA_DIR "
                "DEBUG DESCRIPTION DIR DISABLE_CODE DISABLE_GIT ENTITY HOST IGNORE INITED INIT_TIMEOUT JOB_TYPE MODE "
                "NAME NOTEBOOK_NAME NOTES ORGANIZATION PROGRAM PROJECT QUIET RESUME RUN_DIR RUN_GROUP RUN_ID "
                "SAVE_CODE SHOW_RUN SILENT START_METHOD SWEEP_ID SWEEP_PARAM_PATH TAGS USERNAME USER_EMAIL "
                "disable_git get_app_url get_args get_artifact_dir get_base_url get_data_dir get_description get_dir "
                "get_entity get_ignore get_project get_run get_tags get_user_email get_username is_debug is_offline "
                "is_quiet is_silent set_entity set_project should_save_code strtobool"
            ).split()
        },
    ),
    "wandb.sdk.wandb_run": ("runhive.sdk._run", {"Run": "Run"}),
    "wandb.wandb_run": ("runhive.sdk._run", {"Run": "Run"}),
    "wandb.sdk.artifacts": None,
    "wandb.sdk.artifacts.artifact": ("runhive.sdk.artifacts._artifact", {"Artifact": "Artifact"}),
    "wandb.tensorboard": ("runhive.tensorboard", {n: n for n in "patch unpatch summary_to_dict".split()}),
    "wandb.integration": None,
    "wandb.integration.tensorboard": ("runhive.tensorboard", {n: n for n in "patch unpatch".split()}),
    "wandb.gym": ("runhive.integration._gym", {"monitor": "monitor"}),
    "wandb.util": ("runhive.integration._wandb_alias", {"json_dumps_safer": "json_dumps_safer"}),
}


def json_dumps_safer(obj: Any, **kwargs: Any) -> str:
    """wandb.util.json_dumps_safer: JSON with numpy values; raises for what it cannot encode (Ray probes with it)."""
    from runhive.sdk._values import convert

    def default(o: Any) -> Any:
        try:
            return convert(o)
        except (TypeError, ValueError):
            raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable") from None

    return json.dumps(obj, default=default, **kwargs)


class _Api:
    """`wandb.api`: integrations check `wandb.api.api_key` after `ensure_configured()`. The local daemon needs no
    key, so it is always set."""

    api_key = "runhive-local"


def _ensure_configured() -> None:
    return None


def _root_module() -> types.ModuleType:
    runhive = importlib.import_module("runhive")
    mod = types.ModuleType("wandb", runhive.__doc__)
    mod.__path__ = []  # a package: its submodules come from the finder below
    mod.__version__ = WANDB_VERSION  # type: ignore[attr-defined]
    mod.api = _Api()  # type: ignore[attr-defined]
    mod.ensure_configured = _ensure_configured  # type: ignore[attr-defined]

    def forward(name: str) -> Any:
        # Attribute by attribute, at each access: runhive rebinds run/log/config/summary at every init().
        try:
            return getattr(runhive, name)
        except AttributeError:
            pass
        if f"wandb.{name}" in _SHIMS:  # W&B's wandb/__init__.py imports these: `wandb.env` works unimported
            return importlib.import_module(f"wandb.{name}")
        raise AttributeError(f"module 'wandb' (runhive) has no attribute {name!r}")

    mod.__getattr__ = forward  # type: ignore[method-assign]
    _start_daemon_soon()
    return mod


def _start_daemon_soon() -> None:
    """Reach (or start) the node's daemon now, on a thread. Under Ray the first `import wandb` is the driver's
    (`ray.air.integrations.wandb` imports it), and a daemon started by the driver outlives the trials; one started
    by a trial's actor is killed with the actor (Ray's raylet kills its workers' children), and every trial after
    it would start another."""
    import threading

    def connect() -> None:
        try:
            from runhive.sdk._setup import base_settings
            from runhive.transport._sender import get_sender

            settings = base_settings()
            if settings.resolved_mode != "disabled":
                get_sender(settings).connection()
        except Exception:  # init() reports a daemon that cannot start, where the caller sees it
            pass

    threading.Thread(target=connect, name="runhive-wandb-alias", daemon=True).start()


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name == "wandb":
            return _root_module()
        mod = types.ModuleType(spec.name)
        shim = _SHIMS[spec.name]
        if _is_package(spec.name):
            mod.__path__ = []
        if shim is not None:
            source = importlib.import_module(shim[0])
            for name, attr in shim[1].items():
                setattr(mod, name, getattr(source, attr))
        return mod

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "wandb" and fullname not in _SHIMS:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=_is_package(fullname))

    def find_distributions(self, context: Any = None) -> Iterator[Any]:
        """A `wandb` distribution for `importlib.metadata` (version WANDB_VERSION) while the alias is on: libraries
        check for wandb by its package metadata (Lightning's `RequirementCache("wandb>=0.12.10")`, Accelerate's
        `is_wandb_available()`), not only by importing it."""
        import re

        name = getattr(context, "name", None)
        if not enabled() or (name is not None and re.sub(r"[-_.]+", "-", str(name)).lower() != "wandb"):
            return iter(())
        return iter((_distribution(),))


def _is_package(fullname: str) -> bool:
    if fullname == "wandb" or _SHIMS.get(fullname, ()) is None:
        return True
    return any(other.startswith(fullname + ".") for other in _SHIMS)


def _distribution() -> Any:
    import importlib.metadata
    import pathlib

    class WandbDistribution(importlib.metadata.Distribution):
        """The metadata of W&B's package, as runhive answers for it (RUNHIVE_AS_WANDB)."""

        def read_text(self, filename: str) -> str | None:
            if filename in ("METADATA", "PKG-INFO"):
                return (
                    f"Metadata-Version: 2.1\nName: wandb\nVersion: {WANDB_VERSION}\n"
                    f"Summary: runhive answering for wandb ({ENV}=1)\n"
                )
            if filename == "top_level.txt":
                return "wandb\n"
            return None

        def locate_file(self, path: Any) -> pathlib.Path:
            return pathlib.Path(__file__).parent / str(path)

    return WandbDistribution()


def install() -> None:
    """Answer `import wandb` with runhive in this process (idempotent)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def enabled(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")
