"""Tests for count_change: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate(0, [1, 2]) == 1
    assert candidate(0, []) == 1
    assert candidate(5, []) == 0
    assert candidate(-3, [1]) == 0
    assert candidate(4, [1, 2]) == 3
    assert candidate(3, [2]) == 0
    assert candidate(10, [10]) == 1
    assert candidate(100, [50, 25, 10, 5, 1]) == 292
    assert candidate(100, [1, 5, 10, 25, 50]) == 292  # order of the coins does not matter
    assert candidate(11, [5, 2, 3]) == 4
