"""Where every candidate went: the step classifier, on steps as the loop records them."""

import pytest

from afterburner.agent.outcomes import OUTCOMES, classify_step, count_outcomes


def cmp(speedup, improved=False):
    return {"speedup": speedup, "speedup_ci": [speedup * 0.9, speedup * 1.1], "improved": improved}


@pytest.mark.parametrize(
    ("step", "outcome"),
    [
        ({"status": "format_error", "failure": "no code block defines solve"}, "format_error"),
        ({"status": "unchanged"}, "unchanged"),
        ({"status": "wrong_answer", "check": {"status": "wrong_answer"}}, "wrong"),
        ({"status": "runtime_error"}, "crash"),
        ({"status": "syntax_error"}, "crash"),
        ({"status": "missing_entry_point"}, "crash"),
        ({"status": "memory_exceeded"}, "crash"),
        ({"status": "sandbox_error"}, "crash"),
        ({"status": "timeout"}, "timeout"),
        ({"status": "passed", "comparison": cmp(0.7)}, "slower"),
        ({"status": "passed", "comparison": cmp(1.03)}, "not_significant"),
        # a median a hair below the best's, the interval across 1: not "slower" (seen as 1.00x [0.99, 1.02])
        (
            {"status": "passed", "comparison": {"speedup": 0.998, "speedup_ci": [0.99, 1.02]}},
            "not_significant",
        ),
        ({"status": "passed", "comparison": cmp(1.4, improved=True)}, "faster"),
        ({"status": "passed", "comparison": cmp(float("nan"))}, "not_significant"),
        # written from a statement: measured alone, nothing to compare with
        ({"status": "passed", "measurement": {}, "accepted": True}, "faster"),
        ({"status": "passed", "measurement": {}, "accepted": False}, "not_significant"),
        ({}, "crash"),  # no status at all: something broke before the sandbox said anything
    ],
)
def test_classify_step(step, outcome):
    assert classify_step(step) == outcome


def test_greedy_acceptance_is_not_faster():
    # the paper's strategy accepts any median gain; the breakdown still asks for a significant one
    step = {"status": "passed", "comparison": cmp(1.02), "acceptable": True, "accepted": True}
    assert classify_step(step) == "not_significant"


def test_count_outcomes_keeps_every_category_in_order_and_prefers_the_recorded_one():
    steps = [
        {"status": "format_error"},
        {"status": "format_error"},
        {"status": "passed", "comparison": cmp(2.0, improved=True)},
        {"status": "passed", "outcome": "slower"},  # a recorded outcome wins over re-classifying
    ]
    counts = count_outcomes(steps)
    assert list(counts) == list(OUTCOMES)
    assert counts["format_error"] == 2 and counts["faster"] == 1 and counts["slower"] == 1
    assert sum(counts.values()) == 4
