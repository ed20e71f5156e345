"""Process lifetimes and loopback ports shared by the local backend's supervisors, `hubml serve`'s REST workers
and the TensorBoards hubml starts."""
from __future__ import annotations

import ctypes
import os
import signal
import socket

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent exits, so no child outlives the process
    that answers for it (replicas their job's supervisor, servers their endpoint's, workers their server)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def supervisor_alive(pid: int, marker: str) -> bool:
    """True while `pid` is still the supervisor whose command line holds `marker` (a job's or sweep's id, an
    endpoint's arguments): not a zombie, not a recycled pid."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                os.waitpid(pid, os.WNOHANG)
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return marker.encode() in handle.read()
    except (FileNotFoundError, ChildProcessError):
        return False


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports, all bound at once so none is handed out twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for handle in sockets:
            handle.bind(("127.0.0.1", 0))
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()
