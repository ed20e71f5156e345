"""What processes a test left: found through /proc (no psutil needed), and ended.

A module of its own (on the path because tests/conftest.py sits beside it), since
`from conftest import ...` resolves to whichever test folder's conftest was imported first.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path


def descendants(root: int) -> set[int]:
    """Every live process below `root`, found through /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "(gone)"


def still_running(pids: set[int]) -> dict[int, str]:
    """pid -> command line, of those still alive."""
    return {pid: command_line(pid) for pid in sorted(pids) if alive(pid)}


def process_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def end_processes_of(home: Path) -> None:
    marker = str(home).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker not in handle.read():
                    continue
            os.killpg(int(entry), signal.SIGKILL) if os.getpgid(int(entry)) == int(entry) else \
                os.kill(int(entry), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
