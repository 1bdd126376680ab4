import ast

import pytest

from afterburner.llm import Extraction, extract_code, merge_into_module

TWO_SUM = """class Solution:
    def twoSum(self, nums, target):
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
"""


def fence(code, lang="python"):
    return f"```{lang}\n{code}```"


@pytest.mark.parametrize("lang", ["python", "py", "", "Python"])
def test_fenced_block_with_prose_around(lang):
    text = f"Here is a faster version:\n\n{fence(TWO_SUM, lang)}\n\nIt uses a hash map, O(n)."
    ex = extract_code(text, "Solution().twoSum")
    assert ex.ok and ex.code == TWO_SUM and ex.source == "fence"


def test_paper_layout_thinking_then_solution():
    text = (
        "<thinking>\nThe quadratic loop can be a dict lookup.\n```python\ndef draft(): pass\n```\n</thinking>\n"
        f"<solution>\n{fence(TWO_SUM)}\n</solution>"
    )
    ex = extract_code(text, "Solution().twoSum")
    assert ex.ok and ex.code == TWO_SUM and ex.source == "solution"
    assert ex.thinking.startswith("The quadratic loop can be a dict lookup.")


def test_solution_tag_without_fence():
    ex = extract_code(f"<solution>\n{TWO_SUM}</solution>", "Solution().twoSum")
    assert ex.ok and ast.parse(ex.code) and "seen = {}" in ex.code


def test_unfenced_solution_ends_at_a_stray_closing_fence():
    # the 0.5B model in the paper's layout: no opening fence, a closing one, then more prose
    text = f"<thinking>Use a dict.</thinking>\n<solution>\n{TWO_SUM}```\n<description>A dict.</description>"
    ex = extract_code(text, "Solution().twoSum")
    assert ex.ok and ex.code.strip() == TWO_SUM.strip()


def test_several_blocks_pick_the_one_defining_the_entry_point():
    helper = "def helper(x):\n    return x\n"
    usage = "print(Solution().twoSum([2, 7], 9))\n"
    text = f"First a helper:\n{fence(helper)}\nThen:\n{fence(TWO_SUM)}\nUsage:\n{fence(usage)}"
    ex = extract_code(text, "Solution().twoSum")
    assert ex.ok and ex.code == TWO_SUM


def test_several_defining_blocks_pick_the_last_complete_one():
    first = "def f(x):\n    return sorted(x)[0]\n"
    second = "def f(x):\n    return min(x)\n"
    ex = extract_code(
        f"{fence(first)}\nBetter:\n{fence(second)}\nAnd a cut off one:\n```python\ndef f(x):\n", "f"
    )
    assert ex.ok and ex.code == second


def test_block_for_another_function_is_a_format_error():
    ex = extract_code(fence("def g(x):\n    return x\n"), "f")
    assert not ex.ok and ex.code == "" and "defines f" in ex.reason


def test_class_without_the_method_does_not_count():
    ex = extract_code(fence("class Solution:\n    def other(self):\n        pass\n"), "Solution().twoSum")
    assert not ex.ok


def test_syntax_error_is_a_format_error_with_the_parser_message():
    ex = extract_code(fence("def f(x)\n    return x\n"), "f")
    assert not ex.ok and "parse" in ex.reason and "line 1" in ex.reason


def test_falls_back_from_a_broken_block_to_a_good_earlier_one():
    good = "def f(x):\n    return x\n"
    broken = fence("def f(x) return x\n")
    ex = extract_code(f"{fence(good)}\n{broken}", "f")
    assert ex.ok and ex.code == good


@pytest.mark.parametrize("text", ["", "   \n", None])
def test_empty_completion(text):
    ex = extract_code(text, "f")
    assert ex == Extraction(False, reason="empty completion")


def test_prose_only():
    ex = extract_code("I think the code is already optimal; no change is needed.", "f")
    assert not ex.ok and ex.reason == "no code block in the completion"


def test_truncated_final_fence_used_when_it_parses():
    text = "Here:\n```python\ndef f(x):\n    return min(x)\n"
    ex = extract_code(text, "f")
    assert ex.ok and ex.source == "unterminated" and "return min(x)" in ex.code


def test_truncated_final_fence_rejected_when_it_does_not_parse():
    ex = extract_code("Here:\n```python\ndef f(x):\n    return min(\n", "f")
    assert not ex.ok and "cut off" in ex.reason


def test_truncated_solution_tag():
    ex = extract_code("<thinking>ok</thinking>\n<solution>\n```python\ndef f(x):\n    return 1\n", "f")
    assert ex.ok and "return 1" in ex.code


def test_bare_code_completion_is_accepted():
    ex = extract_code("def f(x):\n    return x\n", "f")
    assert ex.ok and ex.source == "bare"


def test_non_python_fences_are_ignored():
    good = fence("def f(x):\n    return x\n")
    text = f"```bash\npip install numpy\n```\n{good}"
    assert extract_code(text, "f").code == "def f(x):\n    return x\n"
    assert not extract_code("```bash\ndef f(): pass\n```", "f").ok


def test_method_only_answer_is_a_fragment_for_merging():
    ex = extract_code(fence("def twoSum(self, nums, target):\n    return [0, 1]\n"), "Solution().twoSum")
    assert ex.ok and ex.code.startswith("def twoSum")


def test_no_entry_point_takes_any_parsing_block():
    assert extract_code(fence("x = 1\n"), None).code == "x = 1\n"


MODULE = '''"""A module with a slow function."""
import math

LIMIT = 10


def helper(n):
    return n * 2


def slow(xs):
    # quadratic
    return [x for x in xs if xs.count(x) == 1]


def main():
    print(slow([1, 2, 2]))
'''


def test_merge_replaces_only_the_function_and_adds_imports_and_helpers():
    new = (
        "from collections import Counter\nimport math\n\n\n"
        "def _counts(xs):\n    return Counter(xs)\n\n\n"
        "def slow(xs):\n    c = _counts(xs)\n    return [x for x in xs if c[x] == 1]\n\n\n"
        "print(slow([1, 2]))\n"
    )
    merged = merge_into_module(MODULE, new, "slow")
    ns: dict = {}
    exec(compile(merged, "m", "exec"), ns)
    assert ns["slow"]([1, 2, 2, 3]) == [1, 3]
    assert merged.count("import math") == 1 and "from collections import Counter" in merged
    assert "xs.count" not in merged and "print(slow([1, 2]))" not in merged
    # the rest of the module is untouched, in order
    for part in ('"""A module with a slow function."""', "LIMIT = 10", "def helper(n):", "def main():"):
        assert part in merged
    assert merged.index("def _counts") < merged.index("def slow") < merged.index("def main")


def test_merge_bare_method_into_class():
    original = "class Solution:\n    def other(self):\n        return 1\n\n    def twoSum(self, nums, target):\n        return None\n"
    new = "def twoSum(self, nums, target):\n    return [0, 1]\n"
    merged = merge_into_module(original, new, "Solution().twoSum")
    ns: dict = {}
    exec(merged, ns)
    assert ns["Solution"]().twoSum([1], 1) == [0, 1] and ns["Solution"]().other() == 1


def test_merge_partial_class_keeps_other_methods_and_full_class_replaces():
    original = "class S:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2\n"
    partial = merge_into_module(original, "class S:\n    def b(self):\n        return 3\n", "S().b")
    ns: dict = {}
    exec(partial, ns)
    assert (ns["S"]().a(), ns["S"]().b()) == (1, 3)
    full = merge_into_module(
        original,
        "class S:\n    def a(self):\n        return 5\n\n    def b(self):\n        return 6\n",
        "S().b",
    )
    exec(full, ns)
    assert (ns["S"]().a(), ns["S"]().b()) == (5, 6)


def test_merge_future_import_goes_first():
    merged = merge_into_module(
        '"""doc"""\nimport os\n\ndef f():\n    return 1\n',
        "from __future__ import annotations\ndef f() -> int:\n    return 2\n",
        "f",
    )
    compile(merged, "m", "exec")
    assert merged.splitlines()[1] == "from __future__ import annotations"


def test_code_from_reply_merges_repairs_and_says_when_it_is_the_module_again():
    from afterburner.llm.extract import code_from_reply

    module = "import math\n\n\ndef f(x):\n    return math.sqrt(x)\n\n\ndef g():\n    return 1\n"
    same = code_from_reply(fence("def f(x):  # plan: none\n    return math.sqrt(x)\n"), module, "f")
    assert same.unchanged and "def g" in same.code and not same.merge_error
    new = code_from_reply(fence("def f(x):\n    return x**0.5\n"), module, "f")
    assert not new.unchanged and "x**0.5" in new.code and "def g" in new.code
    assert code_from_reply("no code here", module, "f").extraction.ok is False
    alone = code_from_reply(fence("def f(x):\n    return x\n"), None, "f")
    assert alone.code == "def f(x):\n    return x\n" and not alone.unchanged
    calls = []
    fixed = code_from_reply(
        fence("def f(x):\n    return x\n"), module, "f", repair=lambda *a: (calls.append(a) or a[0], ["y"])
    )
    assert fixed.restored == ("y",) and calls and calls[0][1] == module
