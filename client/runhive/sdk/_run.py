"""`Run`: a handle on one run stream. It holds no socket; records go through the process's sender."""

from __future__ import annotations

import itertools
import logging
import os
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runhive.errors import UsageError
from runhive.protocol.metrics import Aggregator, MetricDef, make_def
from runhive.transport._sender import CONFIG, EXIT, HISTORY, METRIC, SUMMARY, UPDATE, Sender, WriterHandle

from ._config import Config
from ._run_extras import RunExtras
from ._summary import Summary
from ._values import MAX_INT, MIN_INT, PLAIN, chart_row, check_int, convert, is_chart

if TYPE_CHECKING:
    from runhive.protocol import messages as pb

logger = logging.getLogger("runhive")

_STEP_WARNING = (
    "Tried to log to step %d that is less than the current step %d. Steps must be monotonically increasing, so "
    "this data will be ignored. See https://wandb.me/define-metric to log data out of order."
)


class Run(RunExtras):
    """One run. Create it with `runhive.init()`."""

    def __init__(
        self,
        *,
        sender: Sender,
        handle: WriterHandle,
        info: pb.RunInfo,
        settings: Any,
        starting_step: int = 0,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        resumed: bool = False,
        resume_file: Any = None,
    ) -> None:
        self._resume_file = resume_file
        self._sender = sender
        self._handle = handle
        self._info = info
        self.settings = settings
        self._pid = os.getpid()
        self._seq = itertools.count(handle.acked + 1)
        self._last_seq = handle.acked
        self._step = starting_step
        self._pending: dict[str, Any] = {}
        self._start = info.start_time or time.time()
        self._finished = False
        self._exit_code: int | None = None
        self.resumed = resumed
        self.config = Config(send=self._send_config)
        if config:
            self.config._items.update(config)
        self.summary = Summary(send=self._send_summary)
        if summary:
            self.summary._items.update(summary)
        self._finish_report: str = ""
        self._agg = Aggregator()
        self._saved_globs: list[tuple[str, str]] = []  # run.save() globs copied again at finish()
        self._has_defs = False
        self._env_thread: Any = None
        self._console: Any = None  # the output.log capture (sdk._console) init() started for this run

    # Identity ---------------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._info.id

    @property
    def name(self) -> str:
        return self._info.name

    @name.setter
    def name(self, value: str) -> None:
        self._info.name = str(value)
        self._send_update(["name"])

    @property
    def notes(self) -> str:
        return self._info.notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._info.notes = str(value)
        self._send_update(["notes"])

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._info.tags)

    @tags.setter
    def tags(self, value: Any) -> None:
        del self._info.tags[:]
        self._info.tags.extend(str(t) for t in value)
        self._send_update(["tags"])

    @property
    def group(self) -> str:
        return self._info.group

    @group.setter
    def group(self, value: str) -> None:
        self._info.group = str(value)
        self._send_update(["group"])

    @property
    def job_type(self) -> str:
        return self._info.job_type

    @job_type.setter
    def job_type(self, value: str) -> None:
        self._info.job_type = str(value)
        self._send_update(["job_type"])

    @property
    def project(self) -> str:
        return self._info.project

    @property
    def entity(self) -> str:
        return self._info.entity

    @property
    def dir(self) -> str:
        return self._info.run_dir

    @property
    def sweep_id(self) -> str | None:
        """The sweep that started this run, if an agent did."""
        return self._info.sweep_id or None

    @property
    def path(self) -> str:
        return f"{self._info.entity}/{self._info.project}/{self._info.id}"

    @property
    def step(self) -> int:
        return self._step

    @property
    def start_time(self) -> float:
        return self._start

    @property
    def offline(self) -> bool:
        return self._info.mode == "offline"

    @property
    def disabled(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<runhive Run {self.path} name={self.name!r}>"

    # Logging ----------------------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Log one row of metrics: validates and copies `data`, stamps a sequence number, enqueues. No I/O."""
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError("runhive.log must be passed a dictionary")
        row = dict(data)
        for k, v in row.items():
            if type(k) is not str:
                raise TypeError("Key values passed to `runhive.log` must be strings.")
            t = type(v)
            if t is float:
                continue
            if t is int:
                if v > MAX_INT or v < MIN_INT:
                    check_int(v)  # raises ValueError: JSON cannot carry it back
            elif t not in PLAIN:
                if is_chart(v):  # runhive.plot charts: W&B's rewrite of the whole row, and config
                    row = self._chart_row(data)
                    break
                row[k] = convert(v)
        if self._finished:
            self._warn_finished("log")
            return
        if step is None and commit is None and not self._pending:
            self._write(row, self._step)
            self._step += 1
            return
        self._log_slow(row, step, commit)

    def _chart_row(self, data: Mapping[str, Any]) -> dict[str, Any]:
        row, entries = chart_row(data)
        if entries and not self._finished:
            wb = dict(self.config._items.get("_wandb") or {})
            for (_, section, key), value in entries:  # ("_wandb", "visualize" | "viz", key)
                wb[section] = {**(wb.get(section) or {}), key: value}
            self.config.update({"_wandb": wb}, allow_val_change=True)
        return row

    def _log_slow(self, row: dict[str, Any], step: int | None, commit: bool | None) -> None:
        if step is not None:
            if type(step) is not int and not (isinstance(step, int) and not isinstance(step, bool)):
                raise TypeError(f"step must be an int, got {type(step).__name__} {step!r}.")
            if step >= 1 << 63:
                raise ValueError(f"step must be below 2**63, got {step}.")
            if step < self._step:
                logger.warning(_STEP_WARNING, step, self._step)
                return
            if step > self._step:
                self._flush_pending()
                self._step = step
            # With an explicit step the row stays pending until commit=True or the step moves on (W&B).
            self._pending.update(row)
            if commit:
                self._flush_pending()
            return
        self._pending.update(row)
        if commit is False:
            return
        self._flush_pending()

    def _flush_pending(self) -> None:
        if self._pending:
            row, self._pending = self._pending, {}
            self._write(row, self._step)
            self._step += 1

    def _write(self, row: dict[str, Any], step: int) -> None:
        now = time.time()
        row["_step"] = step
        if "_timestamp" not in row:
            row["_timestamp"] = now
        if "_runtime" not in row:
            row["_runtime"] = now - self._start
        if self._has_defs:
            self._agg.step_sync(row)
            self.summary._items.update(row)
            self._agg.observe(row, self.summary._items)
        else:
            self.summary._items.update(row)
        seq = next(self._seq)
        self._last_seq = seq
        self._sender.put(HISTORY, self._handle, seq, row)

    def _enqueue(self, kind: int, payload: Any) -> None:
        seq = next(self._seq)
        self._last_seq = seq
        self._sender.put(kind, self._handle, seq, payload)

    def _send_config(self, data: dict[str, Any]) -> None:
        if not self._finished:
            self._enqueue(CONFIG, (data, False, []))

    def _send_summary(self, data: dict[str, Any], remove: list[str]) -> None:
        for k in data:
            self._agg.reset(k)  # an explicit value overrides and restarts the aggregate
        if not self._finished:
            self._enqueue(SUMMARY, (data, remove))

    def _send_update(self, names: list[str]) -> None:
        if not self._finished:
            from runhive.protocol import messages as pb

            info = pb.RunInfo()
            info.CopyFrom(self._info)
            self._enqueue(UPDATE, (info, names))

    def _set_metadata(self, meta: dict[str, Any]) -> None:
        import json

        self._info.metadata_json = json.dumps(meta).encode()
        self._send_update(["metadata"])

    def save(
        self,
        glob_str: str | os.PathLike[str] | None = None,
        base_path: str | None = None,
        policy: str = "live",
    ) -> bool | list[str]:
        """Without arguments, persist run metadata changes (name, notes, tags) now (seed 002's
        `run.name = run.id; run.save()`). With a glob, copy the matching files into the run's files/ now."""
        if glob_str is None:
            self._send_update(["name", "notes", "tags", "group", "job_type"])
            return True
        if policy not in ("live", "now", "end"):
            raise UsageError(f"run.save(policy={policy!r}): use 'live', 'now' or 'end'.")
        import glob

        # W&B: files keep their path relative to base_path, by default the cwd for a relative glob and the
        # glob's own directory for an absolute one, so ckpt/epoch1/model.pt and ckpt/epoch2/model.pt differ.
        pattern = os.fspath(glob_str)
        cwd = os.getcwd()
        where = os.path.normpath(os.path.join(cwd, pattern))  # join keeps an absolute pattern as it is
        if base_path is not None:
            base = os.path.abspath(os.fspath(base_path))
        elif os.path.isabs(pattern):  # the glob's directory: its components before the first wildcard
            parts = where.split(os.sep)
            fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts) - 1)
            base = os.sep.join(parts[:fixed]) or os.sep
        else:
            base = cwd
        full = os.path.normpath(
            pattern if os.path.isabs(pattern) else os.path.join(glob.escape(cwd), pattern)
        )
        if os.path.commonpath([where, base]) != base:
            raise UsageError(
                f"run.save({pattern!r}, base_path={base_path!r}): the glob is not under base_path; the files' "
                "paths under the run's files/ are relative to base_path."
            )
        # "now" copies at the call, "end" at finish(), "live" at both (so files/ ends with the latest contents).
        if policy != "end":
            self._copy_saved(full, base)
        if policy != "now" and (full, base) not in self._saved_globs:  # saving every epoch: copied once
            self._saved_globs.append((full, base))
        return [
            os.path.join(self.dir, "files", os.path.relpath(path, base))
            for path in sorted(glob.glob(full, recursive=True))
            if os.path.isfile(path)
        ]

    def _copy_saved(self, full: str, base: str) -> None:
        import glob
        import shutil

        for path in sorted(glob.glob(full, recursive=True)):
            if not os.path.isfile(path):
                continue
            dest = os.path.join(self.dir, "files", os.path.relpath(path, base))
            if os.path.abspath(dest) == os.path.abspath(path):
                continue  # already in the run's files/
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                shutil.copy2(path, dest)
            except OSError as e:  # a file removed meanwhile, a full disk: the run goes on
                logger.warning("run %s: could not save %s: %s", self.id, path, e)

    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: Any = None,
        tags: Any = None,
    ) -> Any:
        """Log an artifact (or a file or directory as one) as the next version of its name: files under
        `<run.dir>/artifacts/<name>/v<N>/` with a `manifest.json`. Returns the artifact, `version` set."""
        from runhive.sdk.artifacts._artifact import Artifact, artifact_from_path, log_artifact

        if self._finished:
            self._warn_finished("log_artifact")
            return artifact_or_path if isinstance(artifact_or_path, Artifact) else None
        if isinstance(artifact_or_path, (str, os.PathLike)):
            artifact = artifact_from_path(self.id, artifact_or_path, name, type)
        else:
            artifact = artifact_or_path
        return log_artifact(self, artifact, aliases=aliases, tags=tags)

    def _warn_finished(self, what: str) -> None:
        logger.warning("run %s is finished; %s() after finish() is ignored.", self.id, what)

    # Finishing --------------------------------------------------------------------------------------
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Barrier: returns when every record of this run is durable and applied, or `finish_timeout` passed."""
        if self._finished or self._pid != os.getpid():
            return
        if self._env_thread is not None:
            self._env_thread.join(5)  # git and code capture: bounded, never blocks finish for long
        if self._console is not None:  # output.log complete before the exit record (the uploader's last pass)
            from ._console import stop

            stop(self._console)
            self._console = None
        self._flush_pending()
        for full, base in self._saved_globs:  # run.save(policy="end" or "live")
            self._copy_saved(full, base)
        code = 0 if exit_code is None else int(exit_code)
        self._exit_code = code
        self._enqueue(EXIT, code)
        self._finished = True
        seq = self._last_seq
        timeout = self.settings.resolved_finish_timeout
        start = time.monotonic()
        durable = self._sender.wait_acked(self._handle, seq, timeout or None)
        pending = ""
        if durable:
            from runhive.protocol import messages as pb

            remaining = 0.0 if not timeout else max(0.1, timeout - (time.monotonic() - start))
            reply = self._sender.call(
                lambda c: c.stub.FinishRun(
                    pb.FinishRunRequest(
                        session=c.session,
                        run_id=self._handle.run_id,
                        writer=self._handle.writer,
                        seq=seq,
                        timeout=remaining,
                    )
                )
            )
            if not reply.done:
                pending = reply.pending
        elif self._handle.refused_top < seq:
            pending = (
                f"{seq - self._handle.acked} records not yet acknowledged by runhive-service "
                f"(daemon unreachable or finish_timeout={timeout}s passed)"
            )
        self._sender.unregister(self._handle)
        # Records the daemon could not persist (disk full, oversized): counted by the sender, reported here.
        lost = self._sender.loss_report(self._handle)
        if lost and self._handle.refused_top >= seq:
            lost += f"; the run's end (exit code {code}) was not recorded, so it will show as crashed"
        self._finish_report = "; ".join(p for p in (pending, lost) if p)
        if lost:
            logger.warning("run %s finished, but %s.", self.id, lost)
        if pending:
            logger.warning(
                "run %s finished with work pending: %s. The daemon keeps it in %s; `runhive sync %s` "
                "completes it.",
                self.id,
                pending,
                self.dir,
                self.dir,
            )
        if code == 0 and self._resume_file is not None:
            self._forget_resume_file()
        from . import _globals

        _globals.on_finish(self)

    def _forget_resume_file(self) -> None:
        # resume="auto" continues a run that did not finish cleanly; a clean finish ends that.
        import json

        try:
            if json.loads(self._resume_file.read_text()).get("run_id") == self.id:
                self._resume_file.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            traceback.print_exception(exc_type, exc, tb)
        code = 0 if exc_type is None else (255 if issubclass(exc_type, KeyboardInterrupt) else 1)
        self.finish(exit_code=code)
        return None

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> MetricDef:
        """Define how `name` (or a glob such as "val/*") is summarised and which metric is its x-axis."""
        d = make_def(name, step_metric, step_sync, hidden, summary, goal)
        # W&B merges a second definition of the same name into the first unless overwrite=True; the daemon
        # gets the merged definition, which replaces its copy.
        full = d if overwrite else self._agg.merged(d)
        self._agg.define(full)
        self._has_defs = True
        if not self._finished:
            self._enqueue(METRIC, full)
        return d
