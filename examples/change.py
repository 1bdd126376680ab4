"""Count the ways to make an amount of money from coin denominations."""


def count_change(amount, coins):
    """Return the number of ways to make `amount` from any number of coins of the given denominations.

    The order of the coins does not matter: 4 from [1, 2] is 1+1+1+1, 1+1+2 and 2+2, so 3 ways.

    >>> count_change(4, [1, 2])
    3
    """
    if amount == 0:
        return 1
    if amount < 0 or not coins:
        return 0
    # either use the first coin at least once more, or never use it again
    return count_change(amount - coins[0], coins) + count_change(amount, coins[1:])
