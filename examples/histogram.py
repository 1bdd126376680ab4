"""Count how many values fall into each of equal-width bins."""


def histogram(values, low, high, bins):
    """Return the counts of `values` in `bins` equal-width bins covering [low, high).

    Bin i covers [low + i * w, low + (i + 1) * w) with w = (high - low) / bins; values outside
    [low, high) are not counted.

    >>> histogram([0, 1, 2, 3, 9.5, 10], 0, 10, 5)
    [2, 2, 0, 0, 1]
    """
    width = (high - low) / bins
    counts = []
    for i in range(bins):
        start = low + i * width
        end = low + (i + 1) * width
        count = 0
        for v in values:
            if start <= v < end and v < high:
                count += 1
        counts.append(count)
    return counts
