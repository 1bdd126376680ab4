"""Tests for to_csv: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate([]) == ""
    assert candidate([[]]) == "\n"
    assert candidate([[1]]) == "1\n"
    assert candidate([[1, 2, 3], [4, 5, 6]]) == "1,2,3\n4,5,6\n"
    assert candidate([["a,b", 1]]) == '"a,b",1\n'
    assert candidate([['say "hi"']]) == '"say ""hi"""\n'
    assert candidate([["two\nlines", ""]]) == '"two\nlines",\n'
    assert candidate([[1.5, -2, "x"], [], ["", ""]]) == "1.5,-2,x\n\n,\n"
    assert candidate([[None, True]]) == "None,True\n"
