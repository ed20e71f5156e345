"""Process lifetimes shared by the local backend's supervisors and `hubml serve`'s REST workers."""
from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent exits, so no child outlives the process
    that answers for it (replicas their job's supervisor, servers their endpoint's, workers their server)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
