"""One adapter per tracker: the calls a user makes (init, log, finish) and each tool's own reader.

Adapters run inside the tool's own virtualenv, so each library is imported lazily in `load()`.
Environment variables set by bench/run.py keep every tool local and offline:
BENCH_DATA_DIR (where data goes), WANDB_MODE=offline, MLFLOW_TRACKING_URI=sqlite:///..., TRACKIO_DIR,
RUNHIVE_SERVICE_DIR and RUNHIVE_DATA_DIR.
"""

from __future__ import annotations

import glob
import os
import struct
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import psutil

from benchlib import procs

Row = dict[str, float]


def data_dir() -> str:
    path = os.environ["BENCH_DATA_DIR"]
    os.makedirs(path, exist_ok=True)
    return path


class Adapter:
    """Base class; `name` is the tool variant as given on the command line."""

    name = ""
    multi_supported = True
    multi_note = ""

    def load(self) -> str:
        """Import the library; return its version."""
        raise NotImplementedError

    def init(self, project: str, run_name: str, multi: bool) -> Any:
        raise NotImplementedError

    def log(self, run: Any, row: Row, step: int) -> None:
        raise NotImplementedError

    def finish(self, run: Any) -> None:
        raise NotImplementedError

    def finish_all(self, runs: Sequence[Any]) -> None:
        for run in runs:
            self.finish(run)

    def daemons(self) -> list[psutil.Process]:
        """Long-lived helper processes outside our own process tree (runhive's daemon)."""
        return []

    def read_rows(self, project: str) -> dict[str, int]:
        """Rows stored per run name, read back with the tool's own reader."""
        raise NotImplementedError


class RunhiveAdapter(Adapter):
    name = "runhive"

    def load(self) -> str:
        import runhive

        self._mod = runhive
        return str(getattr(runhive, "__version__", "?"))

    def init(self, project: str, run_name: str, multi: bool) -> Any:
        kwargs: dict[str, Any] = {"project": project, "dir": data_dir(), "name": run_name}
        if multi:
            kwargs["reinit"] = "create_new"
        return self._mod.init(**kwargs)

    def log(self, run: Any, row: Row, step: int) -> None:
        run.log(row)

    def finish(self, run: Any) -> None:
        run.finish()

    def daemons(self) -> list[psutil.Process]:
        return procs.find_runhive_daemons(os.environ.get("RUNHIVE_SERVICE_DIR"))

    def api(self) -> Any:
        import runhive

        return runhive.Api()

    def api_runs(self, project: str, api: Any = None) -> list[Any]:
        return list((api or self.api()).runs(project))

    @staticmethod
    def count_rows(run: Any) -> int:
        scan = getattr(run, "scan_history", None)
        if callable(scan):
            return sum(1 for _ in scan())
        for kwargs in ({"samples": 10**12, "pandas": False}, {"samples": 10**12}, {}):
            try:
                return len(run.history(**kwargs))
            except TypeError:
                continue
        raise RuntimeError("run.history() accepts none of the tried signatures")

    @staticmethod
    def sampled_history(run: Any, key: str, samples: int) -> list[Any]:
        try:
            return list(run.history(keys=[key], samples=samples, pandas=False))
        except TypeError:
            return list(run.history(keys=[key], samples=samples))

    def read_rows(self, project: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for run in self.api_runs(project):
            name = str(getattr(run, "name", "") or run.id)
            out[name] = out.get(name, 0) + self.count_rows(run)
        return out

    def read_states(self, project: str) -> dict[str, str]:
        return {
            str(getattr(r, "name", "") or r.id): str(getattr(r, "state", "?")) for r in self.api_runs(project)
        }


class WandbAdapter(Adapter):
    """W&B in offline mode: one wandb-core child per process, rows go to a local `.wandb` log."""

    name = "wandb"

    def load(self) -> str:
        import wandb

        self._mod = wandb
        return str(wandb.__version__)

    def init(self, project: str, run_name: str, multi: bool) -> Any:
        kwargs: dict[str, Any] = {"project": project, "dir": data_dir(), "name": run_name, "mode": "offline"}
        if multi:
            kwargs["reinit"] = "create_new"
        return self._mod.init(**kwargs)

    def log(self, run: Any, row: Row, step: int) -> None:
        run.log(row)

    def finish(self, run: Any) -> None:
        run.finish()

    def read_rows(self, project: str) -> dict[str, int]:
        from wandb.proto import wandb_internal_pb2

        out: dict[str, int] = {}
        pattern = os.path.join(data_dir(), "wandb", "offline-run-*", "run-*.wandb")
        for path in sorted(glob.glob(pattern)):
            name, rows, run_project = os.path.basename(path), 0, ""
            for data in _wandb_log_records(path):
                record = wandb_internal_pb2.Record()
                try:
                    record.ParseFromString(data)
                except Exception:
                    break
                kind = record.WhichOneof("record_type")
                if kind == "history":
                    rows += 1
                elif kind == "run":
                    name = record.run.display_name or record.run.run_id
                    run_project = record.run.project
            if run_project in ("", project):
                out[name] = out.get(name, 0) + rows
        return out


def _wandb_log_records(path: str) -> Iterator[bytes]:
    """Records of a W&B transaction log (LevelDB log format, 32 KiB blocks, CRC-32 seeded with the type).

    Stops at the first torn or corrupt record, as `wandb sync` does.
    """
    block, header_len = 32768, 7
    with open(path, "rb") as fh:
        buf = fh.read()
    if len(buf) < header_len or buf[:4] != b":W&B":
        return
    pos, pending = header_len, b""
    while True:
        left = block - pos % block
        if left < header_len:
            pos += left
            continue
        if pos + header_len > len(buf):
            return
        crc, length, kind = struct.unpack("<IHB", buf[pos : pos + header_len])
        data = buf[pos + header_len : pos + header_len + length]
        if kind == 0 or len(data) < length:
            return
        if zlib.crc32(data, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            return
        pos += header_len + length
        if kind == 1:
            yield data
        elif kind == 2:
            pending = data
        elif kind == 3:
            pending += data
        elif kind == 4:
            yield pending + data
            pending = b""


class TrackioAdapter(Adapter):
    """trackio, local SQLite under TRACKIO_DIR; each Run has its own sender thread (0.5 s batches)."""

    name = "trackio"

    def load(self) -> str:
        import trackio

        self._mod = trackio
        return str(trackio.__version__)

    def init(self, project: str, run_name: str, multi: bool) -> Any:
        return self._mod.init(project=project, name=run_name)

    def log(self, run: Any, row: Row, step: int) -> None:
        run.log(row)

    def finish(self, run: Any) -> None:
        run.finish()

    def read_rows(self, project: str) -> dict[str, int]:
        from trackio.sqlite_storage import SQLiteStorage

        out: dict[str, int] = {}
        for name in SQLiteStorage.get_runs(project):
            out[name] = len(SQLiteStorage.get_logs(project, run=name))
        return out


class MlflowAdapter(Adapter):
    """MLflow against a local SQLite store; `mlflow-async` turns on MLFLOW_ENABLE_ASYNC_LOGGING.

    A single run uses the fluent API (`start_run` / `log_metrics` / `end_run`); concurrent runs in one
    process use `MlflowClient` (`create_run` / `log_batch` / `set_terminated`); fluent runs only nest.
    """

    def __init__(self, asynchronous: bool) -> None:
        self.asynchronous = asynchronous
        self.name = "mlflow-async" if asynchronous else "mlflow-sync"
        self.multi_note = "MlflowClient.create_run (fluent API allows one active run)"

    def load(self) -> str:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        self._mod, self._client_cls, self._metric = mlflow, MlflowClient, Metric
        self._client: Any = None
        return str(mlflow.__version__)

    def _experiment_id(self, project: str) -> str:
        experiment = self._mod.set_experiment(project)
        return str(experiment.experiment_id)

    def init(self, project: str, run_name: str, multi: bool) -> Any:
        experiment_id = self._experiment_id(project)
        if not multi:
            return self._mod.start_run(run_name=run_name).info.run_id
        if self._client is None:
            self._client = self._client_cls()
        return self._client.create_run(experiment_id, run_name=run_name).info.run_id

    def log(self, run: Any, row: Row, step: int) -> None:
        if self._client is None:
            self._mod.log_metrics(row, step=step)
            return
        now = int(time.time() * 1000)
        metrics = [self._metric(key, value, now, step) for key, value in row.items()]
        self._client.log_batch(run, metrics=metrics)

    def finish(self, run: Any) -> None:
        if self._client is None:
            self._mod.end_run()
        else:
            self._client.set_terminated(run)

    def read_rows(self, project: str) -> dict[str, int]:
        client = self._client_cls()
        experiment = client.get_experiment_by_name(project)
        if experiment is None:
            return {}
        out: dict[str, int] = {}
        for run in client.search_runs([experiment.experiment_id], max_results=50000):
            name = run.info.run_name or run.info.run_id
            out[name] = len(client.get_metric_history(run.info.run_id, "loss"))
        return out


def make_adapter(tool: str) -> Adapter:
    if tool == "runhive":
        return RunhiveAdapter()
    if tool == "wandb":
        return WandbAdapter()
    if tool == "trackio":
        return TrackioAdapter()
    if tool in ("mlflow-sync", "mlflow-async"):
        return MlflowAdapter(asynchronous=tool == "mlflow-async")
    raise ValueError(f"unknown tool {tool!r}")
