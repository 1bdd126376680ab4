"""Tests for count_primes: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate(0) == 0
    assert candidate(1) == 0
    assert candidate(2) == 0
    assert candidate(3) == 1
    assert candidate(4) == 2
    assert candidate(10) == 4
    assert candidate(11) == 4  # the limit itself is not counted
    assert candidate(12) == 5
    assert candidate(100) == 25
    assert candidate(1000) == 168
    assert candidate(7920) == 1000
