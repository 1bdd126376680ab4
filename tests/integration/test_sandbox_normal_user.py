"""Run as an ordinary user (not root), under bubblewrap, a candidate cannot read that user's own mode-0600
files (issue 14, class 8: it read ~/.ssh/id_rsa and returned it in its error message).

The test is root's: it makes a user's home with a private key, copies the package there (the venv may
live in root's 0700 home, out of the user's reach), and runs the sandbox as that user with the system's
Python (the sandbox and Task need nothing beyond the standard library).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

import afterburner

pytestmark = pytest.mark.integration

UID = 4242  # not the sandbox's own uid (65534), not a login user
SYSTEM_PYTHON = "/usr/bin/python3"
SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key"

PROBE = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from afterburner.sandbox import Sandbox, SandboxConfig
    from afterburner.task import Case, Task

    key = os.path.join(os.environ["HOME"], ".ssh", "id_rsa")
    assert open(key).read()  # the user can read it; the question is whether the candidate can
    steal = f"def f(n):\\n    raise RuntimeError(open({key!r}).read())\\n"
    task = Task(name="t", entry_point="f", code="def f(n):\\n    return n\\n", cases=(Case((1,), {}, 1, True),))
    with Sandbox(SandboxConfig(isolation="bwrap"), workers=1) as sb:
        r = sb.check(task, steal)
    print(json.dumps({"status": r.status.value, "error": r.failure.error if r.failure else ""}))
    """
)


@pytest.fixture
def user_home():
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    if not shutil.which("bwrap") or not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip("needs bubblewrap and the system's Python")
    root = Path(tempfile.mkdtemp(prefix="afterburner-user-", dir="/var/tmp"))  # /tmp is the sandbox's
    try:
        shutil.copytree(Path(afterburner.__file__).parent, root / "afterburner")
        (root / "probe.py").write_text(PROBE)
        ssh = root / "home" / ".ssh"
        ssh.mkdir(parents=True)
        (ssh / "id_rsa").write_text(SECRET)
        for p in [root, *root.rglob("*")]:
            os.chown(p, UID, UID, follow_symlinks=False)
        os.chmod(ssh, 0o700)
        os.chmod(ssh / "id_rsa", 0o600)
        os.chmod(root, 0o755)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_normal_users_private_key_is_not_readable_by_the_candidate(user_home):
    env = {"HOME": str(user_home / "home"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    p = subprocess.run(
        [SYSTEM_PYTHON, "-s", str(user_home / "probe.py")],
        cwd=user_home, env=env, user=UID, group=UID, extra_groups=[],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if p.returncode != 0 and "bwrap does not work here" in p.stderr:
        pytest.skip(f"bubblewrap does not work for a normal user here: {p.stderr.strip()[-200:]}")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["status"] == "runtime_error"
    assert "No such file or directory" in out["error"] and SECRET not in out["error"]
