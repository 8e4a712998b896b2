"""Edits of a stored run (W&B's `run.update()`, `run.summary.update()`) and its deletion (`run.delete()`),
written through the daemon.

The daemon owns the store's one writer, so an edit is not an SQL write here: it is records sent to the daemon, as
a run's own process sends them. `update_run` opens one more writer on the run (`InitRun` with resume="attach", a
writer id of its own), sends one group (a full `config` record, a `summary` record, an `update` record for the
identity fields) followed by the writer's exit, and waits until the daemon applied it to the store. The exit closes
only this writer, with code 0: the run's state is settled from all its writers, so a finished run stays
finished, a failed or crashed one keeps its state, and a running one keeps running.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from runhive.errors import UsageError

from ._base import RunRecord

IDENTITY_FIELDS = ("name", "notes", "tags", "group", "job_type")


def update_run(run: RunRecord, changes: dict[str, Any], store: str, timeout: float = 60.0) -> None:
    from runhive.protocol import messages as pb
    from runhive.sdk._setup import base_settings
    from runhive.transport._wire import RpcError

    sender = _sender(run, store, "run.update()")
    settings = base_settings()
    host = socket.gethostname()
    writer = f"api-update-{host}-{os.getpid()}-{os.urandom(4).hex()}"
    init = pb.InitRunRequest(
        info=pb.RunInfo(id=run.id, entity=run.entity, project=run.project, pid=os.getpid(), host=host),
        resume="attach",
        writer=writer,
    )

    def call_init(c: Any) -> Any:
        init.session = c.session
        return c.stub.InitRun(init, timeout=settings.resolved_init_timeout)

    try:
        reply = sender.call(call_init)
    except RpcError as exc:
        raise UsageError(f"run.update() of {run.entity}/{run.project}/{run.id}: {exc.details()}") from None
    key = f"{reply.info.entity}/{reply.info.project}/{reply.info.id}"
    group = pb.RecordBatch(run_id=key, writer=writer)
    now = time.time()
    seq = 0

    def record() -> Any:
        nonlocal seq
        seq += 1
        return group.records.add(seq=seq, time=now)

    if "config" in changes:
        record().config.CopyFrom(pb.ConfigRecord(json=_json(changes["config"]), full=True))
    if "summary" in changes or "summary_remove" in changes:
        record().summary.CopyFrom(
            pb.SummaryRecord(
                json=_json(changes.get("summary") or {}), remove=list(changes.get("summary_remove") or [])
            )
        )
    fields = [f for f in IDENTITY_FIELDS if f in changes]
    if fields:
        info = pb.RunInfo()
        info.CopyFrom(reply.info)
        for f in fields:
            if f == "tags":
                del info.tags[:]
                info.tags.extend(str(t) for t in changes["tags"] or [])
            else:
                setattr(info, f, str(changes[f] or ""))
        record().update.CopyFrom(pb.RunUpdateRecord(info=info, fields=fields))
    record().exit.CopyFrom(pb.ExitRecord(exit_code=0, state="finished"))

    def call_append(c: Any) -> Any:
        return c.stub.Append(pb.Batch(session=c.session, groups=[group]), timeout=timeout)

    def call_finish(c: Any) -> Any:
        req = pb.FinishRunRequest(session=c.session, run_id=key, writer=writer, seq=seq, timeout=timeout)
        return c.stub.FinishRun(req, timeout=timeout + 5)

    try:
        sender.call(call_append)
        done = sender.call(call_finish)
    except RpcError as exc:
        raise UsageError(f"run.update() of {key}: {exc.details()}") from None
    if not done.done:
        raise UsageError(f"run.update() of {key}: the daemon did not apply the edit within {timeout:.0f} s")


def _sender(run: RunRecord, store: str, what: str) -> Any:
    """The sender to the daemon that writes `store` (this process's daemon: UsageError when it writes another)."""
    from runhive.sdk._setup import base_settings
    from runhive.transport._sender import get_sender

    settings = base_settings()
    if os.path.abspath(str(settings.store_path)) != os.path.abspath(store):
        raise UsageError(
            f"{what} of {run.entity}/{run.project}/{run.id}: this Api reads the store at {store}, but this "
            f"process's daemon writes {settings.store_path}; change runs of that store with RUNHIVE_DATA_DIR set "
            "to its directory."
        )
    return get_sender(settings)


def delete_run(run: RunRecord, store: str, delete_artifacts: bool, timeout: float = 60.0) -> None:
    """Ask the daemon to delete the run (its rows, on the store's writer, and its run directory); then, with
    `delete_artifacts`, the artifact versions it logged (`delete_run_artifacts` of the artifact store, which
    lives beside the SQLite file). A run still running is refused by the daemon, before any artifact goes."""
    from runhive.protocol import messages as pb
    from runhive.transport._wire import RpcError

    key = f"{run.entity}/{run.project}/{run.id}"
    sender = _sender(run, store, "run.delete()")

    def call(c: Any) -> Any:
        req = pb.DeleteRunRequest(session=c.session, entity=run.entity, project=run.project, run_id=run.id)
        return c.stub.DeleteRun(req, timeout=timeout)

    try:
        sender.call(call)
    except RpcError as exc:
        raise UsageError(f"run.delete() of {key}: {exc.details()}") from None
    if delete_artifacts:
        from runhive.protocol.artifact_store import delete_run_artifacts

        delete_run_artifacts(os.path.dirname(os.path.abspath(store)), run.entity, run.project, run.id)


def _json(value: Any) -> bytes:
    from runhive.sdk._values import convert

    return json.dumps(convert(value, json_keys=True), allow_nan=True).encode()
