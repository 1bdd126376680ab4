"""The median of a stream after each new value (two heaps)."""

import heapq


def running_median(values):
    """Return the median of each prefix of `values` (mean of the middle two for even lengths)."""
    low = []  # max-heap (negated) of the smaller half; holds the extra element for odd counts
    high = []  # min-heap of the larger half
    medians = []
    for v in values:
        if low and v > -low[0]:
            heapq.heappush(high, v)
        else:
            heapq.heappush(low, -v)
        if len(low) > len(high) + 1:
            heapq.heappush(high, -heapq.heappop(low))
        elif len(high) > len(low):
            heapq.heappush(low, -heapq.heappop(high))
        if len(low) > len(high):
            medians.append(-low[0])
        else:
            medians.append((-low[0] + high[0]) / 2)
    return medians
