"""`runhive.controller()`: W&B's local-controller API, for scripts that build and drive a sweep from Python.

W&B's local controller runs the search in the script and still needs W&B's server for the sweep and its runs.
runhive already runs every sweep's controller in the node's daemon (or on the team server, when one is
configured), so this object builds the configuration,
creates (or attaches to) the sweep, and `run()` watches it until it is done; agents do the work as usual.
Custom search or stopping callables (`configure_search(fn)`) are not supported.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from runhive.errors import UsageError
from runhive.sdk._termlog import LazyLogger

logger = LazyLogger(configure=True)

_ACTIVE = ("PENDING", "RUNNING")
_CUSTOM = (
    "runhive runs every sweep's controller in runhive-service, with its grid, random and bayes search and "
    "hyperband stopping; a custom {what} function is not supported"
)


class SweepController:
    def __init__(
        self,
        sweep_id_or_config: str | Mapping[str, Any] | None = None,
        entity: str | None = None,
        project: str | None = None,
    ) -> None:
        self._entity, self._project = entity, project
        self._config: dict[str, Any] = {}
        self._path: str | None = None
        if isinstance(sweep_id_or_config, str):
            from ._agent import sweep_path

            self._path = sweep_path(sweep_id_or_config, entity, project)
        elif isinstance(sweep_id_or_config, Mapping):
            self.configure(sweep_id_or_config)
        elif sweep_id_or_config is not None:
            raise UsageError(
                f"controller() takes a sweep id or a config dict, got {type(sweep_id_or_config).__name__}."
            )

    # Building a configuration ------------------------------------------------------------------------
    def configure(self, sweep_dict_or_config: Mapping[str, Any] | str) -> None:
        if isinstance(sweep_dict_or_config, str):
            from ._sweep import load_sweep_file

            sweep_dict_or_config = load_sweep_file(sweep_dict_or_config)
        for key, value in sweep_dict_or_config.items():
            if key == "method" and callable(value):
                raise UsageError(_CUSTOM.format(what="search"))
            if key == "early_terminate" and callable(value):
                raise UsageError(_CUSTOM.format(what="stopping"))
            self._config[key] = value

    def configure_search(self, search: Any, **kwargs: Any) -> None:
        if callable(search):
            raise UsageError(_CUSTOM.format(what="search"))
        self._config["method"] = search

    def configure_stopping(self, stopping: Any, **kwargs: Any) -> None:
        if callable(stopping):
            raise UsageError(_CUSTOM.format(what="stopping"))
        self._config["early_terminate"] = {"type": stopping, **kwargs}

    def configure_metric(self, metric: str, goal: str | None = None) -> None:
        self._config["metric"] = {"name": metric, **({"goal": goal} if goal else {})}

    def configure_program(self, program: str) -> None:
        self._config["program"] = program

    def configure_name(self, name: str) -> None:
        self._config["name"] = name

    def configure_description(self, description: str) -> None:
        self._config["description"] = description

    def configure_controller(self, type: str) -> None:
        self._config["controller"] = {"type": type}

    def configure_parameter(
        self,
        name: str,
        values: list[Any] | None = None,
        value: Any = None,
        distribution: str | None = None,
        min: float | None = None,
        max: float | None = None,
        mu: float | None = None,
        sigma: float | None = None,
        q: float | None = None,
        a: float | None = None,
        b: float | None = None,
    ) -> None:
        given = {
            "values": values,
            "value": value,
            "distribution": distribution,
            "min": min,
            "max": max,
            "mu": mu,
            "sigma": sigma,
            "q": q,
            "a": a,
            "b": b,
        }
        self._config.setdefault("parameters", {})[name] = {k: v for k, v in given.items() if v is not None}

    def create(self, from_dict: bool = False) -> str:
        """Store the configured sweep in the daemon; returns its id."""
        if self._path is not None:
            raise UsageError(
                f"this controller already has sweep {self._path}; make a new controller() for another."
            )
        from ._sweep import create

        reply = create(self._config, self._entity, self._project)
        self._path = f"{reply.entity}/{reply.project}/{reply.id}"
        logger.info("Create sweep with ID: %s", reply.id)
        return str(reply.id)

    @property
    def sweep_id(self) -> str | None:
        return self._path.rsplit("/", 1)[-1] if self._path else None

    # Watching -----------------------------------------------------------------------------------------
    def _state(self) -> Any:
        from runhive.protocol import messages as pb
        from runhive.sdk._setup import base_settings

        from ._sweep import rpc

        if self._path is None:
            raise UsageError("create() the sweep first, or pass controller() a sweep id.")
        req = pb.SweepControlRequest(sweep=self._path, action="get")

        def send(stub: Any, session: str) -> Any:
            req.session = session
            return stub.SweepControl(req, timeout=60)

        return rpc(base_settings(), send)

    def done(self) -> bool:
        """True once the sweep is no longer pending or running (finished, cancelled or paused, as in W&B)."""
        return self._state().state not in _ACTIVE

    def status(self) -> str:
        """W&B's status line: "Sweep: id (method,stopping) | Runs: n (Running: a, Finished: b)"."""
        from runhive.apis.public._api import Api
        from runhive.sdk._setup import base_settings

        from ._sweep import sweep_server

        reply = self._state()
        # The sweep and its runs are where its controller is: the team server, or the node's own store.
        settings = base_settings()
        server = sweep_server(settings)
        api = (
            Api(overrides={"base_url": server[0]}, api_key=server[1])
            if server is not None
            else Api(overrides={"data_dir": str(settings.resolved_data_dir)})
        )
        sweep = api.sweep(f"{reply.entity}/{reply.project}/{reply.sweep_id}")
        states: dict[str, int] = {}
        for run in sweep.runs:
            states[run.state] = states.get(run.state, 0) + 1
        et = sweep.config.get("early_terminate")
        kinds = [str(sweep.config.get("method"))] + ([str(et.get("type"))] if isinstance(et, dict) else [])
        counts = ", ".join(f"{k.capitalize()}: {v}" for k, v in sorted(states.items()))
        return f"Sweep: {reply.sweep_id} ({','.join(kinds)}) | Runs: {sum(states.values())} ({counts}) | {reply.state}"

    def print_status(self) -> None:
        print(self.status(), flush=True)

    def step(self) -> None:
        """One round of W&B's loop: here the daemon schedules and stops runs by itself, so this reports."""
        self.print_status()

    def run(
        self,
        verbose: bool = False,
        print_status: bool = True,
        print_actions: bool = False,
        print_debug: bool = False,
    ) -> None:
        """Watch the sweep until it is done, printing its status every agent heartbeat (5 s)."""
        from runhive.sdk._setup import base_settings

        interval = base_settings().resolved_agent_heartbeat
        while not self.done():
            if print_status:
                self.print_status()
            time.sleep(interval)  # the daemon's controller does the work; this only watches
        if print_status:
            self.print_status()

    def _custom(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(_CUSTOM.format(what="search or stopping"))

    search = schedule = stopping = stop_runs = _custom


def controller(
    sweep_id_or_config: str | Mapping[str, Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
) -> SweepController:
    """W&B's `wandb.controller()`: build or attach to a sweep and watch it."""
    return SweepController(sweep_id_or_config, entity, project)
