"""The median of a stream after each new value."""


def running_median(values):
    """Return, for each prefix values[:1], values[:2], ..., the median of that prefix.

    For an even number of values the median is the mean of the two middle ones (a float); for an odd
    number it is the middle value itself.

    >>> running_median([5, 1, 3, 8])
    [5, 3.0, 3, 4.0]
    """
    seen = []
    medians = []
    for v in values:
        seen.append(v)
        ordered = sorted(seen)
        k = len(ordered)
        if k % 2:
            medians.append(ordered[k // 2])
        else:
            medians.append((ordered[k // 2 - 1] + ordered[k // 2]) / 2)
    return medians
