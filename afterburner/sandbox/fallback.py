"""The sandbox without bubblewrap: what root can still do itself before the worker starts.

Run in the worker's process between fork and exec (`namespaces_as_root`, a ``preexec_fn``). As root it
unshares the mount, IPC, network and UTS namespaces, so the worker has no network (a fresh, empty network
namespace) and no host IPC objects, and it lays root-owned, read-only tmpfs mounts over every top-level
directory but the system's (`SYSTEM`: /usr, /bin, /sbin, /lib*, /etc, /dev, /proc, /sys, /run, /var),
and over ``/var/tmp`` and ``/dev/shm``: home directories, checkouts, /tmp, /opt, /srv, /mnt and the
like are gone. Then it binds back what the worker needs: the Python prefix(es) read-only (they may live
under root's 0700 home: pyenv, conda, uv), the sandbox's own directory and the task's read-only paths,
and its own private directory read-write. The sandbox user (uid 65534) can then start Python from a
private home, read no home directory and no other checkout, and write nowhere but its own directory.

Not protected here, unlike bwrap: the system directories stay as the host has them (world-readable
files in /etc and /var stay readable), the pid namespace is the host's (the seccomp filter still
forbids new processes; a candidate can signal other processes of uid 65534), and /proc shows the host.
Not root: nothing of this is possible; the worker runs with limits and the seccomp filter only.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET = 0x00020000, 0x04000000, 0x08000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
SYSTEM = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc", "sys", "run", "var"}
ALSO_HIDDEN = ("/var/tmp", "/dev/shm")  # world-writable places inside the system's directories


def hidden() -> list[str]:
    """The directories the fallback covers: every top-level one but the system's, and `ALSO_HIDDEN`."""
    try:
        tops = sorted(f"/{name}" for name in os.listdir("/") if name not in SYSTEM)
    except OSError:
        tops = []
    return [*tops, *ALSO_HIDDEN]


def _private_top(path: str) -> str | None:
    """The highest ancestor of `path` that others cannot enter (mode without o+x), if any."""
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        anc = str(Path(*parts[:i]))
        try:
            if not os.stat(anc).st_mode & 0o001:
                return anc
        except OSError:
            return None
    return None


def plan(readonly: list[str], writable: list[str]) -> tuple[list[str], list[tuple[str, bool]]]:
    """(tmpfs mount points, [(path to bind back, writable)]) for these paths."""
    binds = [(os.path.realpath(p), False) for p in readonly] + [(os.path.realpath(p), True) for p in writable]
    binds = list(dict.fromkeys(binds))
    tops = [d for d in hidden() if os.path.isdir(d) and not os.path.islink(d)]
    for p, _ in binds:
        top = _private_top(p)
        if top and not any(top == t or top.startswith(t + "/") for t in tops):
            tops.append(top)
    tops = [t for t in tops if not any(t.startswith(o + "/") for o in tops)]  # outermost only
    needed = [(p, w) for p, w in binds if any(p == t or p.startswith(t + "/") for t in tops)]
    return tops, needed


def namespaces_as_root(readonly: list[str], writable: list[str]) -> None:
    """Between fork and exec, as root: the namespaces and mounts described in the module docstring."""
    libc = ctypes.CDLL(None, use_errno=True)

    def check(rc: int, what: str) -> None:
        if rc != 0:
            raise OSError(ctypes.get_errno(), f"sandbox fallback: {what}: {os.strerror(ctypes.get_errno())}")

    def mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        enc = [x.encode() if x is not None else None for x in (src, dst, fstype, data)]
        check(libc.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {dst}")

    check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    tops, needed = plan(readonly, writable)
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p, _ in needed}  # before they are hidden
    for top in tops:
        mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for p, w in needed:
        os.makedirs(p, mode=0o755, exist_ok=True)
        mount(f"/proc/self/fd/{fds[p]}", p, None, MS_BIND | MS_REC)
        if not w:
            mount(None, p, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for fd in fds.values():
        os.close(fd)
    for top in tops:  # nobody writes into the covers themselves
        mount(None, top, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755")
