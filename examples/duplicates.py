"""Find the values that occur more than once in a list."""


def find_duplicates(items):
    """Return each value that occurs more than once in `items`, once, in order of first appearance.

    >>> find_duplicates([3, 1, 3, 2, 1, 3])
    [3, 1]
    """
    duplicates = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if items[i] == items[j] and items[i] not in duplicates:
                duplicates.append(items[i])
                break
    return duplicates
