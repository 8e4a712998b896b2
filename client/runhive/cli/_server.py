"""`runhive server`: serve the team server, and administer its database directly (for bootstrap).

    runhive server --db URL [--host 127.0.0.1] [--port 8080] [--files DIR|s3://BUCKET/PREFIX] [--s3-endpoint-url URL]
    runhive server user create NAME [--admin] --db URL     # the new user's API key is the last line printed
    runhive server team create TEAM --db URL
    runhive server team add TEAM USER --role admin|member|viewer --db URL
    runhive server key create USER --db URL | key revoke KEY_ID --db URL | key list USER --db URL
    runhive server db upgrade --db URL

URL is postgresql://... or sqlite:///path. Every command migrates the schema first (under the same lock as the
server), so the first admin can be made before the first server starts. The server's room
(`runhive_service.server`, with SQLAlchemy and Alembic) is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from runhive.errors import Error

DB_HELP = "the database: postgresql://USER@HOST:PORT/DB or sqlite:///path/to/file.db"


def _room() -> Any:
    try:
        from runhive_service import server
    except ImportError as exc:
        raise Error(
            f"runhive server needs the `server` extra: pip install 'runhive[server]' ({exc})"
        ) from None
    return server


def _db(args: argparse.Namespace) -> str:
    if not getattr(args, "db", None):
        raise Error(
            "runhive server needs --db URL (postgresql://USER@HOST:PORT/DB or sqlite:///path/to/file.db)"
        )
    return str(args.db)


def _store(args: argparse.Namespace) -> Any:
    """A ServerStore on the migrated database of --db."""
    server = _room()
    from sqlalchemy.exc import OperationalError

    url = server.database_url(_db(args))
    engine = server.open_engine(url, pool_size=1)
    try:
        server.migrate(engine)
    except OperationalError as exc:
        raise Error(f"cannot open the database {server.shown_url(url)}: {exc.orig}") from None
    return server.ServerStore(engine)


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def cmd_serve(args: argparse.Namespace) -> int:
    server = _room()
    from sqlalchemy.exc import OperationalError

    config = server.ServerConfig(
        db=_db(args),
        host=args.host,
        port=args.port,
        migrate=not args.no_migrate,
        log_level=args.log_level,
        files=args.files,
        s3_endpoint_url=args.s3_endpoint_url,
        allow_anonymous=args.allow_anonymous,
        dashboard=not args.no_dashboard,
        run_timeout=args.run_timeout,
    )
    srv = server.Server(config)

    def ready(s: Any) -> None:
        files = s.files.where if s.files else "none: --files DIR|s3://BUCKET/PREFIX keeps them"
        board = f"dashboard {s.url} (log in with an API key)" if config.dashboard else "no dashboard"
        print(
            f"runhive server: {s.url} (database {s.db_shown}, schema {s.revision}, files {files}; {board}); "
            "Ctrl-C stops it",
            flush=True,
        )

    try:
        srv.run(ready=ready)
    except server.ServerError as exc:  # --files refused (no place for files, boto3 missing, a bad s3:// URL)
        raise Error(str(exc)) from None
    except OperationalError as exc:
        raise Error(f"cannot open the database {srv.db_shown}: {exc.orig}") from None
    except OSError as exc:
        raise Error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print("runhive server: stopped", flush=True)
    return 0


def _print_key(key: Any) -> None:
    print(
        f"API key {key.id} of user '{key.user}': shown this once, keep it now (`runhive login --host URL KEY`)"
    )
    print(key.key)


def cmd_user(args: argparse.Namespace) -> int:
    store = _store(args)
    user, key = store.create_user(args.name, admin=args.admin)
    print(f"created user '{user.name}' (entity '{user.name}'){', a server admin' if user.is_admin else ''}")
    _print_key(key)
    return 0


def cmd_team(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.team_action == "create":
        store.create_team(args.team)
        print(
            f"created team '{args.team}': add people with `runhive server team add {args.team} USER --role ROLE`"
        )
        return 0
    before = store.add_member(args.team, args.user, args.role)
    if before is None:
        print(f"added '{args.user}' to team '{args.team}' as {args.role}")
    elif before == args.role:
        print(f"'{args.user}' is already {args.role} of team '{args.team}'")
    else:
        print(f"'{args.user}' is now {args.role} of team '{args.team}' (was {before})")
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.key_action == "create":
        _print_key(store.create_key(args.user, args.note))
    elif args.key_action == "revoke":
        info, fresh = store.revoke_key(args.key_id)
        if fresh:
            print(f"revoked API key {info.id} of user '{info.user}'")
        else:
            print(f"API key {info.id} of user '{info.user}' was already revoked ({_when(info.revoked_at)})")
    else:
        print(f"{'id':<14}{'created':<21}{'last used':<21}{'revoked':<21}note")
        for k in store.keys(args.user):
            print(
                f"{k.id:<14}{_when(k.created_at):<21}{_when(k.last_used_at):<21}{_when(k.revoked_at):<21}{k.note}"
            )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    store = _store(args)  # migrates
    server = _room()
    print(f"database at schema {server.check_schema(store.engine)} (this runhive's newest)")
    return 0


def _db_option(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: `runhive server --db URL user create NAME` keeps the URL given before the subcommand.
    p.add_argument("--db", default=argparse.SUPPRESS, help=DB_HELP)


def add_parsers(sub: Any) -> None:
    """Add `runhive server` and its admin subcommands to the `runhive` parser's subparsers."""
    p = sub.add_parser("server", help="the team server: serve it (--db URL), or administer its database")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free one)")
    p.add_argument("--no-migrate", action="store_true", help="refuse a database not at this runhive's schema")
    p.add_argument("--log-level", default="warning", help="uvicorn's log level (default warning)")
    p.add_argument(
        "--files",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="where run files (media, run.save(), output.log) are kept: a directory, or S3-compatible storage "
        "through boto3 (its credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile); default: files/ "
        "beside a SQLite database; with PostgreSQL and no --files the server keeps no files",
    )
    p.add_argument(
        "--s3-endpoint-url",
        metavar="URL",
        help="the S3 endpoint for s3:// --files (MinIO, Ceph, ...); default: boto3's (AWS_ENDPOINT_URL_S3, "
        "AWS_ENDPOINT_URL, then AWS)",
    )
    p.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="hand out anonymous users to init(anonymous='allow'|'must') (W&B's anonymous runs); their projects "
        "are open to every logged-in user",
    )
    p.add_argument(
        "--no-dashboard",
        action="store_true",
        help="serve only the API (ingest, reads, sweeps), not the dashboard at / (by default it is served, for "
        "the runs each logged-in user may read)",
    )
    p.add_argument(
        "--run-timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="mark a running run crashed (preempted, after run.mark_preempting()) when its node has not been heard "
        "of for this long, as W&B does after about 5 minutes; nodes send a heartbeat every 30 s; 0 never does "
        "(default: 300)",
    )
    p.set_defaults(fn=cmd_serve)
    admin = p.add_subparsers(dest="server_command", metavar="{user,team,key,db}")

    user = admin.add_parser("user", help="users").add_subparsers(dest="user_action", required=True)
    q = user.add_parser("create", help="create a user and their entity; prints their API key last")
    q.add_argument("name")
    q.add_argument("--admin", action="store_true", help="a server admin (may do everything)")
    _db_option(q)
    q.set_defaults(fn=cmd_user)

    team = admin.add_parser("team", help="teams").add_subparsers(dest="team_action", required=True)
    q = team.add_parser("create", help="create a team (an entity)")
    q.add_argument("team")
    _db_option(q)
    q.set_defaults(fn=cmd_team)
    q = team.add_parser("add", help="add a user to a team, or change their role")
    q.add_argument("team")
    q.add_argument("user")
    q.add_argument("--role", required=True, choices=("admin", "member", "viewer"))
    _db_option(q)
    q.set_defaults(fn=cmd_team)

    key = admin.add_parser("key", help="API keys").add_subparsers(dest="key_action", required=True)
    q = key.add_parser("create", help="a new API key for a user (printed last, shown once)")
    q.add_argument("user")
    q.add_argument("--note", default="", help="what the key is for")
    _db_option(q)
    q.set_defaults(fn=cmd_key)
    q = key.add_parser("revoke", help="revoke a key by its id (or the key itself)")
    q.add_argument("key_id")
    _db_option(q)
    q.set_defaults(fn=cmd_key)
    q = key.add_parser("list", help="a user's keys (ids, never the keys)")
    q.add_argument("user")
    _db_option(q)
    q.set_defaults(fn=cmd_key)

    db = admin.add_parser("db", help="the schema").add_subparsers(dest="db_action", required=True)
    q = db.add_parser("upgrade", help="migrate the database to this runhive's schema")
    _db_option(q)
    q.set_defaults(fn=cmd_db)


def _seconds(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0 (0: never)")
    return value
