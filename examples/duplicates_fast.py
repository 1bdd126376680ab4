"""Find the values that occur more than once in a list (one counting pass)."""

from collections import Counter


def find_duplicates(items):
    """Return each value that occurs more than once in `items`, once, in order of first appearance."""
    counts = Counter(items)
    return [x for x in dict.fromkeys(items) if counts[x] > 1]
