"""`runhive sweep` and `runhive agent`: W&B's `wandb sweep` / `wandb agent` commands."""

from __future__ import annotations

import argparse
from typing import Any

from runhive.errors import UsageError
from runhive.sweeps._sweep import load_sweep_file

_ACTIONS = ("stop", "cancel", "pause", "resume")


def _control(path: str, action: str) -> Any:
    """Ask the node's sweep controller to stop, cancel, pause or resume the sweep `path`; its reply."""
    from runhive.protocol import messages as pb
    from runhive.sdk._setup import base_settings
    from runhive.sweeps._sweep import rpc

    req = pb.SweepControlRequest(sweep=path, action=action)

    def send(stub: Any, session: str) -> Any:
        req.session = session
        return stub.SweepControl(req, timeout=60)

    return rpc(base_settings(), send)


def control_sweep(path: str, action: str, request: Any = None) -> str:
    """What `runhive ui`'s sweep page calls: `runhive sweep --<action> path`; the sweep's state after it (the
    request is the page's: the node's controller has one user, so who asks does not matter here)."""
    return str(_control(path, action).state)


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from runhive.sweeps._sweep import create

    console = Console()
    actions = [a for a in _ACTIONS if getattr(args, a)]
    if len(actions) > 1:
        raise UsageError(f"pass one of --stop, --cancel, --pause, --resume, not {len(actions)}.")
    if actions:
        from runhive.sweeps._agent import sweep_path

        reply = _control(sweep_path(args.config_or_id, args.entity, args.project), actions[0])
        console.print(f"Sweep {reply.entity}/{reply.project}/{reply.sweep_id} is now {reply.state}.")
        return 0
    config = load_sweep_file(args.config_or_id)
    if args.name:
        config["name"] = args.name
    if args.program:
        config["program"] = args.program
    console.print(f"Creating sweep from: {args.config_or_id}")
    try:
        reply = create(config, args.entity, args.project, args.prior_run)
    except ValueError as exc:
        raise UsageError(f"Error in sweep file: {exc}") from None
    console.print(f"Creating sweep with ID: {reply.id}")
    console.print(f"Run sweep agent with: runhive agent {reply.entity}/{reply.project}/{reply.id}")
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from runhive.sweeps._agent import agent

    agent(
        args.sweep_id,
        entity=args.entity,
        project=args.project,
        count=args.count,
        forward_signals=args.forward_signals,
        term_timeout=args.term_timeout,
    )
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("sweep", help="create a sweep from a YAML file, or change a sweep's state")
    p.add_argument("config_or_id", help="CONFIG.yaml to create a sweep; SWEEP_ID with a state flag")
    p.add_argument("-p", "--project", help="the sweep's project")
    p.add_argument("-e", "--entity", help="the sweep's entity")
    p.add_argument("--name", help="the sweep's name (overrides the file's)")
    p.add_argument("--program", help="the program agents run (overrides the file's)")
    p.add_argument(
        "-R", "--prior_run", action="append", default=[], help="a run of the project that seeds it"
    )
    for action in _ACTIONS:
        p.add_argument(f"--{action}", action="store_true", help=f"{action} the sweep SWEEP_ID")
    p.set_defaults(fn=cmd_sweep)
    p = sub.add_parser("agent", help="run a sweep's jobs")
    p.add_argument("sweep_id", help="sweep, project/sweep or entity/project/sweep")
    p.add_argument("-p", "--project", help="the sweep's project, for a bare sweep id")
    p.add_argument("-e", "--entity", help="the sweep's entity, for a bare sweep id")
    p.add_argument("--count", type=int, help="the most runs this agent takes")
    p.add_argument("-f", "--forward-signals", action="store_true", help="relay signals to the running child")
    p.add_argument("-t", "--term-timeout", type=float, help="seconds a terminated child has before SIGKILL")
    p.set_defaults(fn=cmd_agent)
