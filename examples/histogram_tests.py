"""Tests for histogram: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate([], 0, 10, 5) == [0, 0, 0, 0, 0]
    assert candidate([0, 1, 2, 3, 9.5, 10], 0, 10, 5) == [2, 2, 0, 0, 1]
    assert candidate([-1, 11, 10], 0, 10, 2) == [0, 0]  # outside [low, high)
    assert candidate([5], 0, 10, 1) == [1]
    assert candidate([2, 4, 6, 8], 0, 10, 5) == [0, 1, 1, 1, 1]  # values on edges go to the upper bin
    assert candidate([0.125, 0.25, 0.375, 0.875], 0, 1, 8) == [0, 1, 1, 1, 0, 0, 0, 1]
    assert candidate([-5, -4.5, 0], -5, 5, 4) == [2, 0, 1, 0]
