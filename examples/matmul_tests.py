"""Tests for matmul: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]
    assert candidate([[2]], [[3]]) == [[6]]
    assert candidate([[1, 0], [0, 1]], [[4, -1], [2, 9]]) == [[4, -1], [2, 9]]
    assert candidate([[1, 2, 3]], [[1], [2], [3]]) == [[14]]  # 1x3 @ 3x1
    assert candidate([[1], [2]], [[3, 4]]) == [[3, 4], [6, 8]]  # 2x1 @ 1x2
    assert candidate([[0, 0], [0, 0]], [[5, 5], [5, 5]]) == [[0, 0], [0, 0]]
    assert candidate([[-1, 2], [3, -4], [5, 6]], [[7, 8, 9], [10, 11, 12]]) == [
        [13, 14, 15],
        [-19, -20, -21],
        [95, 106, 117],
    ]
