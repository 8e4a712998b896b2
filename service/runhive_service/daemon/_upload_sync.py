"""`runhive sync --host URL` (or with a `runhive login`): send an offline run's WAL and files to a team server.

The uploader's own code (`Uploader._upload_span`, `_upload_files`), driven in the calling process instead of the
daemon's thread: the server is the one place that knows what it holds, so no local state is needed to make it

- idempotent: the server skips records at or below each stream's mark (applied with the mark in one
  transaction) and answers which file digests it lacks, so syncing twice stores the run once;
- resumable: a sync killed midway (SIGKILL included) left whole batches applied with their marks; the next one
  reads the WAL again from the start, and sends only what lies above the marks and the files the server lacks.

The daemon's own records of the run go up as the stream `_daemon@sync` (one name whatever the machine, so a
second sync from a copy of the run directory finds its mark). A writer that never wrote an exit record and whose
process is gone is closed with exit code 1 (state failed), as the local `runhive sync` does: the synthesised exit
has the writer's next sequence number, so a second sync cannot apply it twice. The run directory stays as the
run left it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.rundir._system import read_samples, samples_path
from runhive_service.rundir._wal import read_frames
from runhive_service.streams import DAEMON_WRITER, process_alive, writer_host_pid

from ._uploader import SYSTEM_BATCH, Refused, Transient, Uploader, _get, _post, _post_json, _q, _Upload

logger = logging.getLogger("runhive_service")

SYNC_DAEMON_WRITER = f"{DAEMON_WRITER}@sync"
SYNC_WRITER = "_sync"  # closes a run whose WAL names no writer, as the local sync does
SYNC_NODE = (
    "_sync"  # the node an offline run's system metrics are sent as (one name: a second sync adds none)
)


@dataclass
class ServerSyncResult:
    outcome: str  # synced, partial (a writer still runs), skipped or failed
    run: str  # entity/project/id on the server
    message: str
    bytes_total: int = 0


def sync_to_server(
    wal: Path,
    url: str,
    api_key: str,
    *,
    entity: str = "",
    project: str = "",
    run_id: str = "",
    local_entity: str = "",
    include_online: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
    patience: float = 60.0,
) -> ServerSyncResult:
    """Send the run of `wal` to the server at `url`. `entity`/`project`/`run_id` override the run's identity; a run
    whose entity is `local_entity` (the default a run gets offline: the login name) goes to the key's user
    instead. `progress(bytes done, bytes total)` follows the WAL. Transport failures are retried for `patience`
    seconds, then the sync fails (run it again: it resumes)."""
    url = url.rstrip("/")
    first = next(iter(read_frames(wal)), None)
    if first is None or not first[1].records or first[1].records[0].WhichOneof("kind") != "run":
        return ServerSyncResult("failed", "", f"{wal} does not start with a run record: not a run's WAL")
    info = first[1].records[0].run
    if info.mode != "offline" and not include_online:
        return ServerSyncResult(
            "skipped", f"{info.entity}/{info.project}/{info.id}", "written online (--include-online sends it)"
        )
    # Every frame once: the writers, their last sequence numbers, and which of them wrote their exit.
    last_seq: dict[str, int] = {}
    exited: set[str] = set()
    first_time: dict[str, float] = {}
    last_time: dict[str, float] = {}
    for _end, group in read_frames(wal):
        if not group.records or group.writer == DAEMON_WRITER:
            continue
        first_time.setdefault(group.writer, group.records[0].time)
        last_seq[group.writer] = max(last_seq.get(group.writer, 0), group.records[-1].seq)
        last_time[group.writer] = group.records[-1].time
        if group.records[-1].WhichOneof("kind") == "exit":
            exited.add(group.writer)
    size = wal.stat().st_size
    state_dir = Path(tempfile.mkdtemp(prefix="runhive-sync-"))
    uploader = Uploader(state_dir, background=False, patience=patience)
    retrying = uploader._retrying(stop_after=patience)
    try:
        try:
            if entity:
                target_entity = entity
            elif info.entity and info.entity != local_entity:
                target_entity = info.entity
            else:
                target_entity = str(retrying(lambda: _get(f"{url}/api/v1/viewer", api_key))["entity"])
            target = f"{target_entity}/{project or info.project}/{run_id or info.id}"
            up = _Upload(
                target,
                url,
                api_key,
                target_entity,
                project or info.project,
                run_id or info.id,
                str(wal.parent),
                target=size,
                daemon_writer=SYNC_DAEMON_WRITER,
                wal_path=str(wal),
            )
            while up.sent < up.target:
                before = up.sent
                uploader._upload_span(up)
                progress(up.sent, size)
                if up.sent == before and up.opened:
                    break  # a torn tail: nothing whole left to send
            if not last_seq:  # no writer's record reached the WAL (the process died right after init)
                last_seq[SYNC_WRITER] = 0
                first_time[SYNC_WRITER] = last_time[SYNC_WRITER] = info.start_time
            running = [w for w in last_seq if w not in exited and _alive(w, first_time[w], info)]
            closing = [w for w in last_seq if w not in exited and w not in running]
            for writer in closing:  # gone without an exit record: failed, as the local sync closes it
                seq = last_seq[writer] + 1
                batch = pb.RecordBatch(writer=writer)
                batch.records.add(seq=seq, exit=pb.ExitRecord(exit_code=1, state="failed"))
                batch.records[0].time = last_time[writer]
                body = batch.SerializeToString()
                retrying(
                    lambda writer=writer, body=body: _post(
                        f"{up.base}/{_q(writer)}?prev={last_seq[writer]}", api_key, body
                    )
                )
            up.files.ask()
            uploader._upload_files(up)
            samples = _send_samples(up, wal, retrying)
        except Refused as exc:
            return ServerSyncResult(
                "failed", locals().get("target", ""), f"{url} refused: {exc} (HTTP {exc.status})"
            )
        except Transient as exc:
            return ServerSyncResult(
                "failed",
                locals().get("target", ""),
                f"cannot reach {url} ({exc}); run `runhive sync` again to resume",
            )
        if up.files.error:
            return ServerSyncResult(
                "failed", target, f"{url} refused the run's files: {up.files.error}", size
            )
        files = len(up.files.sent)
        note = f"; the server keeps no files ({files} stay here)" if up.files.disabled else f", {files} files"
        if samples:
            note += f", {samples} system-metrics samples"
        if running:
            return ServerSyncResult(
                "partial",
                target,
                f"sent so far{note}; the run is still being written: sync again when it ends",
                size,
            )
        closed = " (no exit record: closed with exit code 1)" if closing else ""
        return ServerSyncResult("synced", target, f"{size} WAL bytes{note}{closed}", size)
    finally:
        uploader.close()
        for p in state_dir.glob("*"):
            p.unlink(missing_ok=True)
        state_dir.rmdir()


def _send_samples(up: _Upload, wal: Path, retrying: Callable[[Callable[[], object]], object]) -> int:
    """Post the system-metric samples the daemon kept beside the WAL, in batches, as the node `_sync`; the server
    keys them by (run, node, time), so a second sync stores none again. Returns how many the file holds."""
    url = f"{up.url}/api/v1/system/{_q(up.entity)}/{_q(up.project)}/{_q(up.run_id)}/{SYNC_NODE}"
    batch: list[str] = []
    count = 0

    def send() -> None:
        payload = ('{"samples":[' + ",".join(batch) + "]}").encode()
        retrying(lambda: _post_json(url, up.api_key, payload))
        batch.clear()

    for ts, runtime, data in read_samples(samples_path(wal)):
        batch.append(json.dumps([ts, runtime, data], separators=(",", ":")))
        count += 1
        if len(batch) >= SYSTEM_BATCH:
            send()
    if batch:
        send()
    return count


def _alive(writer: str, first_time: float, info: pb.RunInfo) -> bool:
    import socket

    host, pid = ("", 0) if writer == SYNC_WRITER else writer_host_pid(writer)
    if host and host != socket.gethostname():
        return False  # written on another machine: its process cannot be asked; W&B closes such runs
    return process_alive(pid or info.pid, 0.0, first_time or info.start_time)


__all__ = ["ServerSyncResult", "sync_to_server"]
