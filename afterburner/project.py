"""The result as a change to the user's project: a unified diff, files replaced in place (with backups),
or a commit on a new git branch. None of them leaves the working tree half-written.

- `unified_diff(changes, base)`: paths relative to the repository (or `base`), ``a/`` and ``b/``
  prefixes: what ``git apply`` (and ``patch -p1``) take;
- `write_in_place(changes)`: every file backed up first (``FILE.orig``, or a timestamped name), then each
  replaced atomically; if any replacement fails, the ones already made are put back from their backups;
- `commit_on_branch(changes, branch, message)`: the new contents committed on a new branch with git's
  plumbing and a private index (``hash-object``, ``update-index``, ``write-tree``, ``commit-tree``,
  ``update-ref``): the user's working tree, index and current branch are not touched, and the branch
  appears (``update-ref`` creating it) only once the commit exists.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from afterburner.errors import ConfigError

__all__ = [
    "Change",
    "atomic_write",
    "commit_on_branch",
    "git_root",
    "require_clean",
    "unified_diff",
    "write_in_place",
]

Change = tuple[Path, str, str]  # (file, original text, new text)


def git_root(path: str | Path) -> Path | None:
    """The top of the git work tree `path` is in (None: not in one, or no git)."""
    d = Path(path).resolve()
    d = d if d.is_dir() else d.parent
    try:
        r = subprocess.run(
            ["git", "-C", str(d), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(r.stdout.strip()).resolve() if r.returncode == 0 and r.stdout.strip() else None


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix().lstrip("/")


def unified_diff(changes: list[Change], base: str | Path | None = None) -> str:
    """One unified diff of all `changes`, paths relative to the git work tree (else `base`, else cwd)."""
    if not changes:
        return ""
    top = git_root(changes[0][0]) or Path(base or os.getcwd())
    out = []
    for path, old, new in changes:
        if old == new:
            continue
        rel = _rel(path, top)
        lines = list(
            difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
            )
        )
        for i, line in enumerate(lines):
            if not line.endswith("\n"):  # the last line without a newline, as diff(1) marks it
                lines[i] = line + "\n\\ No newline at end of file\n"
        out.extend(lines)
    return "".join(out)


def atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_in_place(changes: list[Change]) -> list[tuple[Path, Path]]:
    """Replace each file with its new text, after backing all of them up; (file, backup) pairs.

    A file whose text changed since it was read is refused before anything is written."""
    for path, old, _ in changes:
        if Path(path).read_text(encoding="utf-8") != old:
            raise ConfigError(f"{path} changed while afterburner ran; nothing was written (use --diff)")
    backups = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path, old, _ in changes:
        path = Path(path)
        backup = path.with_name(path.name + ".orig")
        if backup.exists():
            backup = path.with_name(f"{path.name}.{stamp}.orig")
        atomic_write(backup, old)
        backups.append((path, backup))
    done: list[tuple[Path, str]] = []
    try:
        for path, old, new in changes:
            atomic_write(Path(path), new)
            done.append((Path(path), old))
    except BaseException:
        for path, old in done:  # put back what was replaced: all of the change or none of it
            atomic_write(path, old)
        raise
    return backups


def _git(top: Path, *args: str, env: dict | None = None, data: str | None = None) -> str:
    r = subprocess.run(
        ["git", "-C", str(top), *args],
        capture_output=True,
        text=True,
        input=data,
        env=env,
        timeout=60,
    )
    if r.returncode != 0:
        raise ConfigError(f"git {args[0]} failed: {(r.stderr or r.stdout).strip()[:300]}")
    return r.stdout.strip()


def require_clean(paths: list[Path], branch: str) -> Path:
    """Before a run with ``--git-branch``: the files are in a git work tree, committed as they are,
    and the branch does not exist yet. The work tree's top."""
    top = git_root(paths[0])
    if top is None:
        raise ConfigError(f"--git-branch needs a git repository: {paths[0]} is not in one (use --diff)")
    if subprocess.run(
        ["git", "-C", str(top), "check-ref-format", "--branch", branch], capture_output=True
    ).returncode:
        raise ConfigError(f"--git-branch {branch!r} is not a valid branch name")
    if not subprocess.run(
        ["git", "-C", str(top), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
    ).returncode:
        raise ConfigError(f"branch {branch!r} already exists: choose another --git-branch name")
    _git(top, "rev-parse", "--verify", "HEAD")
    rels = [_rel(p, top) for p in paths]
    dirty = _git(top, "status", "--porcelain", "--", *rels)
    if dirty:
        first = dirty.splitlines()[0][3:]
        raise ConfigError(
            f"{first} has changes that are not committed: commit or stash them first, so the branch holds "
            "only afterburner's change (or use --diff)"
        )
    return top


def commit_on_branch(changes: list[Change], branch: str, message: str) -> str:
    """Commit the new texts on a new branch from HEAD, without touching the work tree; the commit id."""
    paths = [Path(p) for p, _, _ in changes]
    top = require_clean(paths, branch)
    with tempfile.TemporaryDirectory(prefix="afterburner-git-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": os.path.join(tmp, "index")}
        _git(top, "read-tree", "HEAD", env=env)
        for path, _, new in changes:
            rel = _rel(path, top)
            blob = _git(top, "hash-object", "-w", "--stdin", "--path", rel, data=new)
            mode = "100755" if os.access(path, os.X_OK) else "100644"
            _git(top, "update-index", "--add", "--cacheinfo", f"{mode},{blob},{rel}", env=env)
        tree = _git(top, "write-tree", env=env)
        head = _git(top, "rev-parse", "HEAD")
        commit = _git(top, "commit-tree", tree, "-p", head, "-F", "-", data=message)
        _git(top, "update-ref", f"refs/heads/{branch}", commit, "")  # "" : only if it does not exist
    return commit
