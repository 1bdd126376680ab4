"""Count how many values fall into each of equal-width bins (one pass, computed bin index)."""


def histogram(values, low, high, bins):
    """Return the counts of `values` in `bins` equal-width bins covering [low, high)."""
    width = (high - low) / bins
    edges = [low + i * width for i in range(bins + 1)]  # the same float edges as a bin-by-bin scan
    counts = [0] * bins
    last = bins - 1
    for v in values:
        if low <= v < high:
            i = min(int((v - low) / width), last)
            # the computed index can be one off at a bin edge (float rounding): settle it on the edges
            while i > 0 and v < edges[i]:
                i -= 1
            while i < last and v >= edges[i + 1]:
                i += 1
            if edges[i] <= v < edges[i + 1]:
                counts[i] += 1
    return counts
