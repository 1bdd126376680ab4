"""``afterburner trace -- python script.py`` and ``optimize --trace``: the top function is found by the
profile and optimized on its recorded calls; the command prints the same with the new code, and its
end-to-end CPU time is compared with an interval. Scripted backend, the real sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from afterburner.cli import main

pytestmark = pytest.mark.integration

WORDS = '''\
import re

WORD = re.compile(r"[a-z]+")


def tokens(text):
    return WORD.findall(text.lower())


def top_words(words, k):
    """The k most frequent words (ties: alphabetical)."""
    counts = {}
    for w in words:
        if w in counts:
            counts[w] += 1
        else:
            counts[w] = 1
    items = list(counts.items())
    for i in range(len(items)):
        for j in range(len(items) - 1 - i):
            a, b = items[j], items[j + 1]
            if (-a[1], a[0]) > (-b[1], b[0]):
                items[j], items[j + 1] = b, a
    return items[:k]
'''

SCRIPT = """\
import random
import sys

from textstats.words import tokens, top_words


def main(n):
    rng = random.Random(7)
    vocab = ["w" + "".join(rng.choice("abcdefgh") for _ in range(4)) for _ in range(400)]
    words = tokens(" ".join(rng.choice(vocab) for _ in range(n)))
    for w, c in top_words(words, 5):
        print(w, c)


if __name__ == "__main__":
    main(int(sys.argv[1]))
"""

FAST = '''\
```python
def top_words(words, k):
    """The k most frequent words (ties: alphabetical)."""
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
```
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "stats"
    (root / "textstats").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "textstats"\nversion = "0"\n')
    (root / "textstats" / "__init__.py").write_text("")
    (root / "textstats" / "words.py").write_text(WORDS)
    (root / "report.py").write_text(SCRIPT)
    monkeypatch.chdir(root)
    return root


def run_script(root: Path) -> str:
    return subprocess.run(
        [sys.executable, "report.py", "20000"], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def test_trace_finds_the_top_function_and_optimize_keeps_the_output(project, tmp_path, capsys):
    before = run_script(project)
    trace = tmp_path / "t.json"
    assert main(["trace", "-o", str(trace), "--", "python", "report.py", "20000"]) == 0
    out = capsys.readouterr().out
    assert "textstats/words.py::top_words (1 recorded)" in out.splitlines()[1]  # ranked first
    data = json.loads(trace.read_text())
    top = data["functions"][0]
    assert top["qualname"] == "top_words" and top["recording"]["kept"] == 1 and data["output_stable"]
    assert [f["qualname"] for f in data["functions"]].index("tokens") > 0

    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([FAST]))
    argv = [
        "optimize",
        "--trace",
        str(trace),
        "--top",
        "1",
        "--backend",
        "scripted",
        "--replies",
        str(replies),
    ]
    code = main(
        [
            *argv,
            "--rounds",
            "1",
            "--candidates",
            "1",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--in-place",
            "--no-rewrites",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "textstats/words.py::top_words: " in captured.out and "on its recorded calls" in captured.out
    [e2e] = [ln for ln in captured.out.splitlines() if ln.startswith("end to end:")]
    assert "same output" in e2e and "CPU time median of 5 runs each" in e2e and "95% interval" in e2e
    assert "sorted(counts.items()" in (project / "textstats" / "words.py").read_text()
    assert (project / "textstats" / "words.py.orig").read_text() == WORDS
    assert run_script(project) == before


def test_a_change_of_output_is_caught_end_to_end_and_nothing_is_written(project, tmp_path, capsys):
    from afterburner.tracing import end_to_end, trace_command

    trace = trace_command(["python", "report.py", "3000"], tmp_path / "t.json", say=lambda s: None)
    bad = WORDS.replace("return items[:k]", "return items[: k - 1]")
    overlay = [{"module": "textstats.words", "file": str(project / "textstats" / "words.py"), "source": bad}]
    e2e = end_to_end(trace, overlay, repeats=1)
    assert not e2e.output_same and "the new code's run printed" in e2e.difference
    assert "NOT the same" in e2e.line()


def test_optimize_trace_without_recorded_functions_says_so(project, tmp_path, capsys):
    (project / "empty.py").write_text("print('hi')\n")
    trace = tmp_path / "t.json"
    assert main(["trace", "-o", str(trace), "--", "python", "empty.py"]) == 0
    code = main(["optimize", "--trace", str(trace), "--backend", "scripted"])
    err = capsys.readouterr().err
    assert code == 2 and "has no recorded calls of any function of the project" in err
