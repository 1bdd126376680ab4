"""Multiply two matrices given as lists of rows (rows of a against columns of b, in C-level loops)."""

from operator import mul


def matmul(a, b):
    """Return the matrix product a @ b of two integer matrices given as lists of rows."""
    if not b:
        return [[] for _ in a]
    columns = list(zip(*b, strict=True))
    return [[sum(map(mul, row, col)) for col in columns] for row in a]
