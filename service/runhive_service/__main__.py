"""`runhive-service`: the node's daemon. Normally started by the first `runhive.init()`."""

from __future__ import annotations

import argparse
import logging
import sys

from runhive_service.daemon import Server, ServiceConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runhive-service", description=__doc__)
    parser.add_argument(
        "--dir", help="socket directory (default: RUNHIVE_SERVICE_DIR or the per-user default)"
    )
    parser.add_argument("--idle-timeout", type=float, help="seconds to stay up with no clients and no work")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s",
    )
    cfg = ServiceConfig.from_env(args.dir)
    if args.idle_timeout is not None:
        cfg.idle_timeout = args.idle_timeout
    return Server(cfg).run()


if __name__ == "__main__":
    sys.exit(main())
