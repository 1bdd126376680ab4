"""Tests for filter_blocked: check(candidate) raises AssertionError on a wrong answer."""


def check(candidate):
    assert candidate([], []) == []
    assert candidate([], ["a@x.org"]) == []
    assert candidate(["a@x.org"], []) == ["a@x.org"]
    assert candidate(["a@x.org", "B@y.org", "c@z.org"], ["b@Y.org"]) == ["a@x.org", "c@z.org"]
    assert candidate(["a@x.org", "a@x.org", "A@X.ORG"], ["a@x.org"]) == []
    assert candidate(["d@x.org", "a@x.org", "d@x.org"], ["z@z.org"]) == ["d@x.org", "a@x.org", "d@x.org"]
    assert candidate(["a@x.org", "b@x.org"], ["a@x.org", "b@x.org", "c@x.org"]) == []
