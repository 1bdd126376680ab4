"""The result types survive the JSON the checkpoints and trajectories keep them in."""

from __future__ import annotations

import json

from afterburner.measurement import compare_samples, summarize
from afterburner.results import CheckResult, Comparison, Failure, Measurement, Profile, Status


def roundtrip(obj):
    return type(obj).from_dict(json.loads(json.dumps(obj.to_dict())))


def measured(scale: float) -> Measurement:
    prof = Profile(
        ({"name": "f", "line": 1, "self_share": 0.5, "total_share": 1.0},),
        ({"line": 3, "share": 0.8, "code": "x = sorted(xs)", "function": "f"},),
        120,
        ({"line": 3, "function": "f", "callee": "sorted", "inner": "", "share": 0.6},),
    )
    return Measurement(
        Status.PASSED,
        cpu_time_s=summarize([scale * x for x in (1.0, 1.1, 0.9, 1.05, 0.95)]),
        peak_memory_bytes=1000,
        integral=2.5,
        profile=prof,
        details={"isolation": "bwrap"},
    )


def test_a_measurement_with_its_profile_and_callees_comes_back_equal():
    m = measured(1.0)
    assert roundtrip(m) == m


def test_a_comparison_comes_back_equal_and_keeps_its_verdict():
    c = compare_samples(measured(2.0), measured(1.0))
    back = roundtrip(c)
    assert isinstance(back, Comparison) and back == c and back.improved and back.status_b is Status.PASSED


def test_a_failed_check_keeps_its_status_and_failure():
    r = CheckResult(Status.WRONG_ANSWER, Failure(input="[1]", expected="[]", got="[1]"), 3, 1)
    back = roundtrip(r)
    assert back == r and not back.passed and back.failure.short().startswith("input: [1]")
