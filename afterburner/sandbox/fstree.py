"""Removing a directory tree that a candidate built, whatever its depth, names or permissions.

Stdlib only (the worker imports it inside the sandbox; the pool uses it on the host). The walk is
iterative and relative to one open directory fd at a time (``openat``/``unlinkat``, ``..`` to climb), so
no depth defeats it: not Python's recursion limit, not PATH_MAX, not the open-files limit. Symlinks are
removed, never followed; read-only mounts (host paths bound into the sandbox) are left alone, and so
are the directories that lead to them.
"""

from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_dir(name: str, dir_fd: int | None) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # the candidate took its own permissions away: give them back
        try:
            os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=False)
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            return None
    except OSError:
        return None


def clear(path: str, keep: frozenset[str] = frozenset()) -> int:
    """Remove everything below `path` (not `path` itself) except the top-level names in `keep`.

    Returns how many entries could not be removed (0: the directory is as empty as asked)."""
    top = _open_dir(path, None)
    if top is None:
        return 0 if not os.path.lexists(path) else 1
    fd, names, stuck = top, [], set()  # names: the path from `path` down to fd's directory
    with_fchmod(fd)
    left = 0
    while True:
        child_name = None
        try:
            entries = list(os.scandir(fd))
        except OSError:
            entries = []
        for e in entries:
            if not names and e.name in keep:
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in stuck:
                continue
            if stat.S_ISDIR(st.st_mode):
                child_name = e.name
                break
            try:
                os.unlink(e.name, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError:
                stuck.add((st.st_dev, st.st_ino))
                left += 1
        if child_name is not None:
            child = _open_dir(child_name, fd)
            if child is None or os.fstatvfs(child).f_flag & os.ST_RDONLY:
                if child is not None:
                    os.close(child)
                    # a read-only mount is a host path bound in (a venv below the host's /tmp), not a
                    # leftover: nothing can be written there, so it does not make the directory unclean
                else:
                    left += 1
                stuck.add((st.st_dev, st.st_ino))
                continue
            with_fchmod(child)
            os.close(fd)
            fd = child
            names.append(child_name)
            continue
        if not names:  # back at the top, and nothing more to remove
            os.close(fd)
            return left
        me = os.fstat(fd)
        parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
        os.close(fd)
        fd = parent
        name = names.pop()
        try:
            os.rmdir(name, dir_fd=fd)
        except FileNotFoundError:
            pass
        except OSError:  # a read-only mount (or an entry we could not remove) lies below
            stuck.add((me.st_dev, me.st_ino))


def with_fchmod(fd: int) -> None:
    try:
        os.fchmod(fd, 0o700)
    except OSError:
        pass


def remove(path: str) -> bool:
    """Remove the tree at `path` and `path` itself; True when it is gone."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.unlink(path)
        except OSError:
            return False
        return True
    clear(path)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True
