"""Tests for find_duplicates: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate([]) == []
    assert candidate([1]) == []
    assert candidate([1, 1]) == [1]
    assert candidate([1, 2, 3, 4]) == []
    assert candidate([3, 1, 3, 2, 1, 3]) == [3, 1]
    assert candidate([5, 5, 5, 5]) == [5]
    assert candidate([2, 1, 1, 2]) == [2, 1]  # order of first appearance, not of the second one
    assert candidate(["b", "a", "b", "c", "a"]) == ["b", "a"]
    assert candidate([0, -1, 0, -1, 7]) == [0, -1]
    assert candidate(list(range(50)) + list(range(49, -1, -2))) == list(range(1, 50, 2))
