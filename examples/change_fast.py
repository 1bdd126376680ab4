"""Count the ways to make an amount of money from coin denominations (dynamic programming)."""


def count_change(amount, coins):
    """Return the number of ways to make `amount` from any number of coins of the given denominations."""
    if amount < 0:
        return 0
    ways = [1] + [0] * amount
    for coin in coins:
        for total in range(coin, amount + 1):
            ways[total] += ways[total - coin]
    return ways[amount]
