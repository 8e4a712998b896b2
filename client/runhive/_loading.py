"""Background work that a fork() must not split. A child forked while another thread imports inherits that
module's import lock, held by a thread the child does not have, and hangs on its first import of the module; a
child forked while another thread spawns the daemon keeps Popen's error pipe open, and Popen never returns.
The preload thread and `spawn_daemon()` run under `lock`, and fork() waits for it."""

from __future__ import annotations

import logging  # noqa: F401  first: its fork hook (which takes logging's lock) must be registered before ours, see below
import os
import threading

lock = threading.RLock()

# Before-fork hooks run newest first: fork() waits for the background imports *before* logging takes its lock,
# which those imports may need (a module that calls logging.getLogger()).
os.register_at_fork(before=lock.acquire, after_in_parent=lock.release, after_in_child=lock.release)
