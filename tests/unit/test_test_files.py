"""pytest imports test files by basename (no __init__.py in tests/): two files of one name stop the whole
suite at collection ("import file mismatch"), which happened twice. Catch it in the fast tests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_file_has_its_own_basename():
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
