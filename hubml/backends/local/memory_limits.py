"""A local replica's memory limit, enforced as the machine allows (`c.HubML.memory_enforcement`).

- **cgroup**: the replica runs in a memory cgroup of its own, made under the
  supervisor's own cgroup (cgroup v1's memory hierarchy), or on v2 under it or
  beside it where the memory controller is delegated (`v2_parent`). The kernel stops
  the replica at the limit and touches nothing else; its OOM kill is read from
  `memory.oom_control` (v1) or `memory.events` (v2), so the reason is certain.
  The cgroup is removed when the replica ends (and, should its supervisor be
  SIGKILLed, by the next supervisor or whoever finds the job lost).
- **watchdog**: where no cgroup can be made (not root, no delegated subtree),
  the supervisor sums the RSS of the replica's process tree every
  `WATCHDOG_SECONDS` and kills that tree past the limit. An allocation faster
  than the poll can overshoot the limit for that long.

Either way every replica is the global OOM killer's first choice
(`oom_score_adj`), ahead of the notebook kernel and the hub, for the memory a
replica without a limit (`default_memory = 0`) may take.

Standard library only: the supervisor imports it.
"""
from __future__ import annotations

import glob
import os
import signal
import time
from dataclasses import dataclass

REPLICA_OOM_SCORE_ADJ = 500
WATCHDOG_SECONDS = 0.1
RELEASE_SECONDS = 10.0
ABANDONED_SECONDS = 60.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class CgroupUnavailable(Exception):
    """No memory cgroup can be made here; the message says why."""


class MemoryLimit:
    """A replica without a limit; the subclasses enforce one. The supervisor calls `enter` in the replica's
    process before exec, `started` with its pid, `exceeded` as it polls, `stop` once exceeded, `release` at the end."""

    mechanism = "none"

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self.pid: int | None = None

    def enter(self) -> None:
        try:
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write(str(REPLICA_OOM_SCORE_ADJ))
        except OSError:  # a kernel without it, or a score already higher than an unprivileged process may lower
            pass

    @property
    def where(self) -> str:
        """What enforces the limit, for the supervisor's log."""
        return self.mechanism

    def started(self, pid: int) -> None:
        self.pid = pid

    def ended(self) -> None:
        """The replica's process has exited and been reaped: its pid may name another process from now on."""
        self.pid = None

    def exceeded(self) -> bool:
        return False

    def stop(self) -> None:
        """SIGKILL every process of the replica (and nothing else)."""

    def release(self) -> None:
        """Remove what enforcing the limit made; the replica's processes have ended."""


@dataclass(frozen=True)
class Hierarchy:
    """The supervisor's own memory cgroup, under which each replica gets one."""

    folder: str
    version: int

    def configure(self, folder: str, limit: int) -> None:
        if self.version == 1:
            write(folder, "memory.limit_in_bytes", limit)
            if os.path.exists(os.path.join(folder, "memory.memsw.limit_in_bytes")):
                write(folder, "memory.memsw.limit_in_bytes", limit)  # no swapping past the limit either
        else:
            write(folder, "memory.max", limit)
            for name, value in (("memory.swap.max", 0), ("memory.oom.group", 1)):
                if os.path.exists(os.path.join(folder, name)):
                    write(folder, name, value)

    def oom_kills(self, folder: str) -> int:
        """How many processes the kernel killed in `folder` for its limit."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            with open(os.path.join(folder, name)) as handle:
                counters = dict(line.split() for line in handle if line.strip())
        except OSError:
            return 0
        return int(counters.get("oom_kill", 0))


class CgroupLimit(MemoryLimit):
    mechanism = "cgroup"

    def __init__(self, limit: int, hierarchy: Hierarchy, name: str):
        super().__init__(limit)
        self.hierarchy = hierarchy
        self.folder = os.path.join(hierarchy.folder, name)
        try:
            os.mkdir(self.folder)
        except OSError as error:
            raise CgroupUnavailable(f"cannot make {self.folder}: {error.strerror}") from error
        try:
            hierarchy.configure(self.folder, limit)
        except OSError as error:
            os.rmdir(self.folder)
            raise CgroupUnavailable(f"cannot set a memory limit on {self.folder}: {error.strerror}") from error

    @property
    def where(self) -> str:
        return f"cgroup v{self.hierarchy.version} {self.folder}"

    def enter(self) -> None:
        super().enter()
        write(self.folder, "cgroup.procs", os.getpid())  # before exec: the replica never runs outside it

    def exceeded(self) -> bool:
        return self.hierarchy.oom_kills(self.folder) > 0

    def stop(self) -> None:
        for pid in self._members():
            kill(pid)

    def release(self) -> None:
        """Kill what is left of the replica in its cgroup (a child it left behind) and remove the cgroup."""
        deadline = time.monotonic() + RELEASE_SECONDS
        while True:
            self.stop()
            try:
                os.rmdir(self.folder)
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY until the last member is reaped
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _members(self) -> list[int]:
        try:
            with open(os.path.join(self.folder, "cgroup.procs")) as handle:
                return [int(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []


class WatchdogLimit(MemoryLimit):
    mechanism = "watchdog"

    def __init__(self, limit: int):
        super().__init__(limit)
        self._next_check = 0.0
        self._over = False

    def exceeded(self) -> bool:
        now = time.monotonic()
        if self.pid is not None and not self._over and now >= self._next_check:
            self._next_check = now + WATCHDOG_SECONDS
            self._over = sum(map(resident_bytes, process_tree(self.pid))) > self.limit
        return self._over

    def stop(self) -> None:
        if self.pid is not None:
            for pid in process_tree(self.pid):
                kill(pid)


class Enforcement:
    """One supervisor's choice, made once: a cgroup per replica, or the watchdog (`mode` as the setting)."""

    def __init__(self, mode: str):
        self.mode = mode
        self._hierarchy: Hierarchy | None = None
        self.fallback: str | None = None  # why the watchdog runs where `auto` wanted a cgroup

    def limit_for(self, name: str, limit: int | None) -> MemoryLimit:
        """The limit of one replica; CgroupUnavailable when the mode is 'cgroup' and none can be made."""
        if not limit:
            return MemoryLimit()
        if self.mode != "watchdog" and self.fallback is None:
            try:
                if self._hierarchy is None:
                    self._hierarchy = own_hierarchy()
                    remove_abandoned(self._hierarchy)
                return CgroupLimit(limit, self._hierarchy, name)
            except CgroupUnavailable as error:
                if self.mode == "cgroup":
                    raise
                self.fallback = str(error)
        return WatchdogLimit(limit)


def own_hierarchy() -> Hierarchy:
    """This process's memory cgroup, where children can be made: v1's memory hierarchy, else v2's."""
    mounts = {}
    with open("/proc/self/mounts") as handle:
        for line in handle:
            _, mountpoint, fstype, options = line.split()[:4]
            if fstype == "cgroup" and "memory" in options.split(","):
                mounts[1] = mountpoint
            elif fstype == "cgroup2":
                mounts.setdefault(2, mountpoint)
    paths = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            number, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                paths[1] = path
            elif number == "0":
                paths[2] = path
    if 1 in mounts and 1 in paths:
        folder = mounts[1] + paths[1].rstrip("/")
        if not os.access(folder, os.W_OK):
            raise CgroupUnavailable(f"{folder} is not writable by this user")
        return Hierarchy(folder, 1)
    if 2 in mounts and 2 in paths:
        return Hierarchy(v2_parent(mounts[2] + paths[2].rstrip("/")), 2)
    raise CgroupUnavailable("this machine mounts no memory cgroup controller")


def v2_parent(own: str) -> str:
    """Where v2 replica cgroups can go: under this process's own cgroup where it hands the memory controller
    to children (the root cgroup), else beside it, under a parent that does (a delegated subtree: v2 lets
    no cgroup both hold processes and give its children controllers, so this one cannot). Nothing is enabled
    here that the machine's owner did not delegate."""
    for folder in (own, os.path.dirname(own)):
        try:
            with open(os.path.join(folder, "cgroup.subtree_control")) as handle:
                delegated = "memory" in handle.read().split()
        except OSError:
            continue
        if delegated and os.access(folder, os.W_OK):
            return folder
    raise CgroupUnavailable(f"no writable cgroup v2 above {own} hands the memory controller to its children")


def leftover_cgroups(job_id: str) -> list[str]:
    """The cgroups of this job's replicas still there, where this process's hierarchy would hold them."""
    try:
        folder = own_hierarchy().folder
    except CgroupUnavailable:
        return []
    return glob.glob(os.path.join(folder, f"hubml-{glob.escape(job_id)}-*"))


def remove_leftovers(job_id: str) -> None:
    """Remove the cgroups a lost supervisor left of its replicas (empty: the replicas died with it)."""
    for folder in leftover_cgroups(job_id):
        remove_if_empty(folder)


def remove_abandoned(hierarchy: Hierarchy) -> None:
    """Remove replica cgroups that stayed empty for a while: a supervisor SIGKILLed with nobody to notice
    left them (a live replica's cgroup is empty only for the moments around its start and end)."""
    for folder in glob.glob(os.path.join(hierarchy.folder, "hubml-*")):
        try:
            abandoned = time.time() - os.stat(folder).st_mtime > ABANDONED_SECONDS
        except OSError:
            continue
        if abandoned:
            remove_if_empty(folder)


def remove_if_empty(folder: str) -> None:
    try:
        os.rmdir(folder)  # the kernel refuses a cgroup that still has members
    except OSError:
        pass


def process_tree(root: int) -> list[int]:
    """`root` and every live descendant, from /proc (its `children` files are not in every kernel)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    tree, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        tree.append(pid)
        frontier.extend(children.get(pid, ()))
    return tree


def resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def write(folder: str, name: str, value: object) -> None:
    with open(os.path.join(folder, name), "w") as handle:
        handle.write(str(value))
