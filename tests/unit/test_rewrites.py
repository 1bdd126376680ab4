"""The mechanical rewrites: each applies where it is safe (the code it writes), and stays out where it
is not. The sandbox's verdicts on them are in tests/integration/test_rewrites_sandbox.py."""

from __future__ import annotations

import textwrap

import pytest

from afterburner.agent.rewrites import mechanical_candidates, njit, plan_rewrites


def dedent(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def names(code: str, entry: str, profile=None) -> list[str]:
    return [r.name for r in mechanical_candidates(dedent(code), entry, profile)]


def only(code: str, entry: str, name: str, profile=None) -> str:
    [r] = [r for r in mechanical_candidates(dedent(code), entry, profile) if r.name == name]
    return r.code


def skipped(code: str, entry: str) -> dict[str, str]:
    return {s.name: s.reason for s in plan_rewrites(dedent(code), entry)[1]}


# ----------------------------------------------------------------------------------- functools.cache

FIB = '''\
"""Numbers."""
import math


def fib(n):
    # the textbook version
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
'''


def test_cache_goes_on_a_pure_branching_recursion_and_makes_it_fast():
    code = only(FIB, "fib", "functools_cache")
    assert code == (
        '"""Numbers."""\nimport math\nimport functools\n\n\n@functools.cache\ndef fib(n):\n'
        "    # the textbook version\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n"
    )
    ns: dict = {}
    exec(compile(code, "<rewrite>", "exec"), ns)
    assert ns["fib"](90) == 2880067194370816120  # without the cache: about 2**62 calls
    assert ns["fib"].cache_info().misses == 91  # each subproblem computed once


def test_cache_on_a_nested_recursion_of_the_target_and_an_import_at_the_top():
    code = only(
        """
        def count_paths(grid):
            rows, cols = len(grid), len(grid[0])

            def walk(r, c):
                if r == rows - 1 and c == cols - 1:
                    return 1
                total = 0
                if r + 1 < rows and grid[r + 1][c] == 0:
                    total += walk(r + 1, c)
                if c + 1 < cols and grid[r][c + 1] == 0:
                    total += walk(r, c + 1)
                return total

            return walk(0, 0)
        """,
        "count_paths",
        "functools_cache",
    )
    assert code.startswith("import functools\n\ndef count_paths(grid):\n")
    assert "    @functools.cache\n    def walk(r, c):\n" in code
    ns: dict = {}
    exec(code, ns)
    assert ns["count_paths"]([[0] * 16 for _ in range(16)]) == 155117520  # C(30, 15) paths, instantly


def test_cache_on_a_helper_the_target_calls_recursing_in_a_loop():
    code = only(
        """
        import functools

        def partitions(n, largest):
            if n == 0:
                return 1
            return sum(partitions(n - k, k) for k in range(1, min(n, largest) + 1))

        def solve(n):
            return partitions(n, n)
        """,
        "solve",
        "functools_cache",
    )
    assert code.count("import functools") == 1 and "@functools.cache\ndef partitions(n, largest):" in code


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (  # writes module state
            """
            CALLS = []
            def fib(n):
                CALLS.append(n)
                return n if n < 2 else fib(n - 1) + fib(n - 2)
            """,
            "fib is not pure: it calls `CALLS.append`, which may change CALLS",
        ),
        (  # declares a global
            """
            count = 0
            def fib(n):
                global count
                count += 1
                return n if n < 2 else fib(n - 1) + fib(n - 2)
            """,
            "fib is not pure: it declares global count",
        ),
        (  # changes its argument
            """
            def fib(n, path):
                path[n] = 1
                return n if n < 2 else fib(n - 1, path) + fib(n - 2, path)
            """,
            "fib is not pure: it changes path (`path[n]`)",
        ),
        (  # I/O
            """
            def fib(n):
                print(n)
                return n if n < 2 else fib(n - 1) + fib(n - 2)
            """,
            "fib is not pure: it calls print",
        ),
        (  # randomness
            """
            import random
            def fib(n):
                return n * random.random() if n < 2 else fib(n - 1) + fib(n - 2)
            """,
            "fib is not pure: it calls random.random (I/O, the clock or randomness)",
        ),
        (  # a visibly mutable result: a caller could change the cached list
            """
            def subsets(xs):
                if not xs:
                    return [[]]
                rest = subsets(xs[1:])
                return rest + [[xs[0]] + s for s in subsets(xs[1:])]
            """,
            "subsets returns a mutable value",
        ),
        (  # reads a global the module changes
            """
            SCALE = 1
            def set_scale(s):
                global SCALE
                SCALE = s
            def fib(n):
                return SCALE * n if n < 2 else fib(n - 1) + fib(n - 2)
            """,
            "fib reads SCALE, which the module changes",
        ),
        (  # memoized by hand already
            """
            def fib(n, memo=None):
                return n if n < 2 else fib(n - 1, memo) + fib(n - 2, memo)
            """,
            "fib is memoized by hand",
        ),
        (  # already cached
            """
            import functools
            @functools.lru_cache(maxsize=None)
            def fib(n):
                return n if n < 2 else fib(n - 1) + fib(n - 2)
            """,
            "fib is already cached",
        ),
        (  # one self-call: a linear recursion repeats no subproblem
            """
            def fact(n):
                return 1 if n < 2 else n * fact(n - 1)
            """,
            "fact calls itself once",
        ),
    ],
)
def test_cache_stays_off_impure_or_useless_recursion(code, reason):
    entry = "subsets" if "subsets" in code else "fact" if "fact(" in code else "fib"
    assert "functools_cache" not in names(code, entry)
    assert skipped(code, entry)["functools_cache"].startswith(reason)


def test_cache_stays_off_a_method_and_a_closure_that_changes():
    method = """
        class Solver:
            def fib(self, n):
                return n if n < 2 else self.fib(n - 1) + self.fib(n - 2)
        """
    assert names(method, "Solver().fib") == []  # self.fib calls are not calls of a plain function
    closure = """
        def solve(n):
            k = 1

            def f(m):
                return k if m < 2 else f(m - 1) + f(m - 2)

            first = f(n)
            k = 2
            return first + f(n)
        """
    assert "functools_cache" not in names(closure, "solve")
    assert skipped(closure, "solve")["functools_cache"] == "f reads k, which solve changes"


# ------------------------------------------------------------------------------------ hoisting


def test_hoists_invariant_calls_out_of_the_loop():
    code = only(
        """
        import math
        import numpy as np

        def score(xs, w, n):
            out = []
            for x in xs:
                s = math.sqrt(n) * x + np.linalg.norm(w)  # invariant
                if x > max(w) + len(w):  # len(): too cheap to be worth it
                    continue
                out.append(s / np.sum(w))  # after a conditional continue: left alone
            return out
        """,
        "score",
        "hoist_invariants",
    )
    assert code == dedent(
        """
        import math
        import numpy as np

        def score(xs, w, n):
            out = []
            _norm_w = np.linalg.norm(w)
            _sqrt_n = math.sqrt(n)
            _max_w = max(w)
            for x in xs:
                s = _sqrt_n * x + _norm_w  # invariant
                if x > _max_w + len(w):  # len(): too cheap to be worth it
                    continue
                out.append(s / np.sum(w))  # after a conditional continue: left alone
            return out
        """
    )


def test_hoists_a_set_built_in_the_test_and_to_the_outermost_loop_it_is_invariant_in():
    code = only(
        """
        def common(rows, ys):
            n = 0
            for row in rows:
                for x in row:
                    if x in set(ys):
                        n += 1
            return n
        """,
        "common",
        "hoist_invariants",
    )
    assert (
        "    _set_ys = set(ys)\n    for row in rows:\n        for x in row:\n            if x in _set_ys:"
        in code
    )
    ns: dict = {}
    exec(code, ns)
    assert ns["common"]([[1, 2], [3, 2]], [2, 3]) == 3


def test_hoists_from_a_while_test_and_a_method_target():
    code = only(
        """
        class Walker:
            def __init__(self, items):
                self.items = items

            def walk(self, start):
                i, total = start, 0
                while total < max(self.items):
                    total += self.items[i]
                    i += 1
                return total
        """,
        "Walker().walk",
        "hoist_invariants",
    )
    assert "        _max_items = max(self.items)\n        while total < _max_items:" in code


@pytest.mark.parametrize(
    "code",
    [
        # the name the call reads is reassigned in the loop
        """
        import numpy as np
        def f(xs, w):
            out = []
            for x in xs:
                out.append(x * np.sum(w))
                w = w + 1
            return out
        """,
        # the array the call reads is changed in place in the loop
        """
        import numpy as np
        def f(xs, w):
            out = []
            for i, x in enumerate(xs):
                out.append(x * np.sum(w))
                w[i % 3] = 0
            return out
        """,
        # a list the call reads grows in the loop
        """
        def f(xs):
            seen = [0]
            for x in xs:
                if max(seen) < x:
                    seen.append(x)
            return seen
        """,
        # a row of the matrix is changed through the loop variable: an alias
        """
        def f(grid):
            out = []
            for row in grid:
                row[0] = 1
                out.append(sum(grid[0]))
            return out
        """,
        # the call sits under an if, or in a short circuit: it may not run at all
        """
        import math
        def f(xs, n):
            t = 0
            for x in xs:
                if x > 0:
                    t += math.log(n)
                t += x > 0 and math.log(n)
            return t
        """,
        # an array made once would be shared by every pass, and the loop writes into it
        """
        import numpy as np
        def f(xs, n):
            out = []
            for x in xs:
                t = np.zeros(n)
                t[0] = x
                out.append(t)
            return out
        """,
        # a call the analysis does not know might change what the invariant call reads
        """
        import numpy as np
        def f(xs, w, update):
            t = 0
            for x in xs:
                t += x * np.sum(w)
                update(w)
            return t
        """,
    ],
)
def test_hoisting_stays_off_calls_whose_value_may_change_or_may_not_run(code):
    assert "hoist_invariants" not in names(code, "f")


def test_hoisting_with_a_profile_touches_only_hot_loops():
    code = """
        import math

        def f(xs, n):
            a = 0
            for x in xs:
                a += math.sqrt(n) * x
            b = 0
            for x in xs:
                b += math.exp(n) * x
            return a + b
        """
    hot_second = {"lines": [{"line": 9, "share": 0.9}], "samples": 100}
    out = only(code, "f", "hoist_invariants", profile=hot_second)
    assert "_exp_n = math.exp(n)" in out and "math.sqrt(n) * x" in out
    cold = {"lines": [{"line": 4, "share": 0.9}], "samples": 100}
    assert names(code, "f", profile=cold) == []


# ----------------------------------------------------------------------------------------- numba

LOOPY = """
    import numpy as np

    def inversions(x):
        n = len(x)
        count = 0
        for i in range(n):
            for j in range(i + 1, n):
                if x[i] > x[j]:
                    count += 1
        return count
    """


def test_numba_is_skipped_with_the_reason_when_it_is_not_installed(monkeypatch):
    monkeypatch.setattr(njit, "numba_available", lambda: False)
    assert names(LOOPY, "inversions") == []
    assert skipped(LOOPY, "inversions") == {
        "numba_njit": "numba is not installed (pip install 'afterburner[numba]')"
    }


def test_numba_decorates_a_loop_heavy_function_when_installed(monkeypatch):
    monkeypatch.setattr(njit, "numba_available", lambda: True)
    code = only(LOOPY, "inversions", "numba_njit")
    assert code.startswith("import numpy as np\nimport numba\n\n@numba.njit\ndef inversions(x):\n")


def test_numba_stays_off_methods_helpers_and_light_loops(monkeypatch):
    monkeypatch.setattr(njit, "numba_available", lambda: True)
    helper = LOOPY.replace("count += 1", "count += bump(1)") + "\n    def bump(k):\n        return k\n"
    assert "numba_njit" not in names(helper, "inversions")
    assert skipped(helper, "inversions")["numba_njit"].startswith("inversions calls bump")
    light = {"lines": [{"line": 4, "share": 0.9}], "samples": 100}  # the time is outside the loops
    assert "numba_njit" not in names(LOOPY, "inversions", profile=light)
    method = (
        "class K:\n    def f(self, x):\n        for i in x:\n            for j in x:\n                pass\n"
    )
    assert skipped(method, "K().f")["numba_njit"] == "numba compiles functions, and K().f is a method"


def test_code_that_does_not_parse_or_lacks_the_target_gets_no_rewrite():
    assert plan_rewrites("def f(:\n", "f") == ([], [])
    assert plan_rewrites(FIB, "missing") == ([], [])


def test_numba_spells_builtin_dtypes_as_numpy_types(monkeypatch):
    monkeypatch.setattr(njit, "numba_available", lambda: True)
    code = only(
        LOOPY.replace("n = len(x)", "x = np.asarray(x, dtype=float)\n        n = len(x)"),
        "inversions",
        "numba_njit",
    )
    assert "x = np.asarray(x, dtype=np.float64)" in code  # numpy reads both alike; numba types only this


def test_numba_waits_for_a_run_long_enough_to_pay_its_compile_time(monkeypatch):
    monkeypatch.setattr(njit, "numba_available", lambda: True)
    code = dedent(LOOPY)
    assert [r.name for r in mechanical_candidates(code, "inversions", run_s=2.5)] == ["numba_njit"]
    assert mechanical_candidates(code, "inversions", run_s=0.12) == []
    reason = {s.name: s.reason for s in plan_rewrites(code, "inversions", run_s=0.12)[1]}["numba_njit"]
    assert reason.startswith("the original runs in 0.12 s: numba's compile time")
