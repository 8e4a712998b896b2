"""The `runhive` command: runs, service control, store maintenance."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from runhive.errors import Error


def _console() -> Any:
    from rich.console import Console

    return Console()


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{…}"
    return str(v)


def cmd_runs(args: argparse.Namespace) -> int:
    from rich.table import Table

    from runhive.apis.public._api import Api

    api = Api()
    runs = api.runs(args.project, filters={"state": args.state} if args.state else None)
    table = Table(title=f"runs in {args.project} ({api.settings.store_path})")
    for col in ("id", "name", "state", "steps", "summary", "created"):
        table.add_column(col, overflow="fold")
    for r in runs:
        summary = ", ".join(f"{k}={_fmt_value(v)}" for k, v in r.summary.items() if not k.startswith("_"))
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created_ts or 0))
        steps = str(r.last_step + 1 if r.last_step is not None and r.last_step >= 0 else 0)
        table.add_row(r.id, r.name, r.state, steps, summary[:120], created)
    _console().print(table)
    if not runs:
        _console().print(f"no runs in project {args.project!r}")
    return 0


def _service_dir(args: argparse.Namespace) -> Any:
    from runhive.sdk._setup import base_settings

    return base_settings().resolved_service_dir


def cmd_service(args: argparse.Namespace) -> int:
    from runhive.protocol import messages as pb
    from runhive.transport._daemon import connect
    from runhive.transport._wire import RpcError, StatusCode

    console = _console()
    directory = _service_dir(args)
    if args.action == "start":
        conn = connect(directory, start=True)
        console.print(f"runhive-service running: pid {conn.daemon_pid}, socket {conn.address.socket_path}")
        conn.close()
        return 0
    try:
        conn = connect(directory, start=False)
    except Error as exc:
        if args.action == "stop":
            console.print("runhive-service is not running")
            return 0
        console.print(f"runhive-service is not running ({exc})")
        return 1
    if args.action == "status":
        st = conn.stub.Status(pb.StatusRequest(session=conn.session), timeout=10)
        if args.json:
            from google.protobuf.json_format import MessageToDict

            print(json.dumps(MessageToDict(st, preserving_proto_field_name=True)))
            return 0
        from rich.table import Table

        console.print(f"pid            {st.pid}")
        console.print(f"socket         {st.socket}")
        console.print(f"uptime         {st.uptime:.1f} s")
        console.print(f"clients        {st.clients - 1}")  # minus this command's own session
        console.print(f"open streams   {len(st.streams)}")
        console.print(f"store          {st.store}")
        console.print(f"records        {st.records_received} received, {st.records_applied} applied")
        console.print(f"memory         {st.rss_bytes / 2**20:.1f} MiB RSS")
        if st.streams:
            table = Table()
            for col in ("run", "project", "state", "writers", "rows"):
                table.add_column(col)
            for s in st.streams:
                table.add_row(s.run_id, s.project, s.state, str(s.writers), str(s.records))
            console.print(table)
        return 0
    # stop
    pid = conn.daemon_pid
    try:
        conn.stub.Shutdown(pb.ShutdownRequest(session=conn.session), timeout=10)
    except RpcError as exc:
        # A daemon may close the connection as it stops, before its answer is read: its exit is the answer.
        if exc.code() is not StatusCode.UNAVAILABLE:
            raise
    conn.close()
    if not _wait_exit(pid, args.timeout):
        console.print(f"runhive-service {pid} did not stop within {args.timeout} s")
        return 1
    console.print(f"runhive-service {pid} stopped")
    return 0


def _wait_exit(pid: int, timeout: float) -> bool:
    """True once `pid` is gone. A zombie counts as gone: the daemon's parent may never reap it."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)  # polling the process table for a condition, with a deadline
    return False


def cmd_store(args: argparse.Namespace) -> int:
    from runhive.sdk._setup import base_settings
    from runhive.transport._daemon import connect

    console = _console()
    settings = base_settings()
    try:
        conn = connect(settings.resolved_service_dir, start=False)
    except Error:
        conn = None
    if conn is not None:
        conn.close()
        console.print("stop the daemon first (`runhive service stop`): the store has one writer")
        return 1
    from runhive_service.rundir import index_entries
    from runhive_service.store import rebuild

    index = settings.resolved_data_dir / "rundirs.idx"
    n, damage = rebuild(settings.store_path, index_entries(index))
    for d in damage:
        console.print(f"[yellow]WAL damage[/yellow] {d}")
    console.print(f"rebuilt {settings.store_path} from {n} run directories")
    return 0


def _listens_beyond_this_machine(host: str) -> bool:
    """True unless `host` is a loopback address or `localhost`: a wildcard (0.0.0.0, ::), a LAN address or a
    name that may resolve to one."""
    import ipaddress

    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return False
    try:
        return not ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return True


def cmd_ui(args: argparse.Namespace) -> int:
    from runhive.sdk._setup import base_settings

    try:
        from runhive_service.dashboard import UiConfig, allowed_hosts, serve
    except ImportError as exc:
        raise Error(f"runhive ui needs the `ui` extra: pip install 'runhive[ui]' ({exc})") from None
    settings = base_settings()
    data_dir = settings.resolved_data_dir
    from ._sweep import control_sweep

    config = UiConfig(
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        allowed_hosts=tuple(args.allowed_host),
        sweep_control=control_sweep,
    )
    allowed_hosts(config)  # refuses a malformed --allowed-host before anything is printed
    if _listens_beyond_this_machine(args.host):
        print(
            f"runhive ui: WARNING: --host {args.host} exposes the store to the network without a login: anyone "
            f"who can reach port {args.port} can read every run. To look from another machine, keep the default "
            f"--host 127.0.0.1 and tunnel: ssh -L {args.port}:127.0.0.1:{args.port} THIS-HOST. Requests must "
            "name this machine or an --allowed-host in their Host header.",
            file=sys.stderr,
            flush=True,
        )
    _console().print(
        f"runhive ui: http://{args.host}:{args.port}/ (store {settings.store_path}); Ctrl-C stops it"
    )
    serve(config)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runhive", description="runhive: experiment tracking on a local daemon"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("runs", help="list the runs of a project")
    p.add_argument("project", nargs="?", default="Uncategorized", help="project or entity/project")
    p.add_argument("--state", help="only runs in this state (running, finished, failed, crashed)")
    p.set_defaults(fn=cmd_runs)
    p = sub.add_parser("service", help="control the node's runhive-service daemon")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--json", action="store_true", help="status as JSON")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for stop")
    p.set_defaults(fn=cmd_service)
    p = sub.add_parser("store", help="maintain the local store")
    p.add_argument(
        "action", choices=("rebuild",), help="rebuild: recreate the store from the run directories"
    )
    p.set_defaults(fn=cmd_store)
    from ._sync import add_parser as add_sync_parser

    add_sync_parser(sub)
    from ._sweep import add_parsers as add_sweep_parsers

    add_sweep_parsers(sub)
    from ._server import add_parsers as add_server_parsers

    add_server_parsers(sub)
    p = sub.add_parser("ui", help="serve the web dashboard over the local store")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8420, help="port (default 8420)")
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host header is NAME (repeatable; localhost, 127.0.0.1, ::1 and --host "
        "always are): the name a proxy or another machine uses to reach the dashboard",
    )
    p.set_defaults(fn=cmd_ui)
    from . import _artifact, _login, _mode, _restore, _status, _verify  # W&B's commands, a module each

    for room in (_login, _mode, _status, _artifact, _restore, _verify):
        room.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except Error as exc:
        print(f"runhive: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
