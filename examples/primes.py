"""Count the prime numbers below a limit."""


def count_primes(limit):
    """Return how many prime numbers are smaller than `limit`.

    >>> count_primes(10)
    4
    """
    count = 0
    for n in range(2, limit):
        is_prime = True
        for d in range(2, n):
            if d * d > n:
                break
            if n % d == 0:
                is_prime = False
                break
        if is_prime:
            count += 1
    return count
