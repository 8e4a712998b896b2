"""Where a node's daemon listens, as both sides know it: one 0700 directory per user (RUNHIVE_SERVICE_DIR) holding
the socket, the token that proves a client is the directory's user, the daemon's pid, its start lock and its log."""

from __future__ import annotations

import os
from pathlib import Path

from runhive.errors import InsecureSocketError

SOCKET_NAME = "service.sock"
TOKEN_NAME = "token"
LOCK_NAME = "start.lock"
PID_NAME = "service.pid"
LOG_NAME = "service.log"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` 0700 if missing, and refuse one that other users could reach or that is not ours."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise InsecureSocketError(
            f"runhive's service directory {path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}); "
            "set RUNHIVE_SERVICE_DIR to a directory of your own."
        )
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path
