"""Count the prime numbers below a limit (sieve of Eratosthenes)."""


def count_primes(limit):
    """Return how many prime numbers are smaller than `limit`."""
    if limit < 3:
        return 0
    sieve = bytearray([1]) * limit
    sieve[0] = sieve[1] = 0
    for p in range(2, int(limit**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit, p)))
    return sum(sieve)
