"""Multiply two matrices given as lists of rows."""


def matmul(a, b):
    """Return the matrix product a @ b of two integer matrices given as lists of rows.

    >>> matmul([[1, 2], [3, 4]], [[5, 6], [7, 8]])
    [[19, 22], [43, 50]]
    """
    rows, inner, cols = len(a), len(b), len(b[0]) if b else 0
    result = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            for k in range(inner):
                result[i][j] = result[i][j] + a[i][k] * b[k][j]
    return result
