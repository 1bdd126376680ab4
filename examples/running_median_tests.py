"""Tests for running_median: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate([]) == []
    assert candidate([7]) == [7]
    assert candidate([5, 1, 3, 8]) == [5, 3.0, 3, 4.0]
    assert candidate([1, 2, 3, 4, 5]) == [1, 1.5, 2, 2.5, 3]
    assert candidate([5, 4, 3, 2, 1]) == [5, 4.5, 4, 3.5, 3]
    assert candidate([2, 2, 2, 2]) == [2, 2.0, 2, 2.0]
    assert candidate([-3, 10, -3, 0]) == [-3, 3.5, -3, -1.5]
    out = candidate([1, 4])
    assert out == [1, 2.5] and isinstance(out[1], float)
