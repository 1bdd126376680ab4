import math

import pytest

from afterburner.metrics import Point, SolutionComparison, aggregate, geomean_speedup, round_curve, shares


def ref(ci, mem=1.0, integral=1.0, identical=False, which="reference"):
    return SolutionComparison(which, identical, sum(ci) / 2, ci, mem, integral)


def test_shares_count_not_significantly_worse_as_good():
    slower_but_noisy = ref((0.9, 1.1))  # cannot tell: as good
    clearly_slower = ref((0.5, 0.6), mem=1.2, integral=0.5)
    assert shares([slower_but_noisy]) == {"time": 1.0, "memory": 1.0, "integral": 1.0}
    assert shares([clearly_slower]) == {"time": 0.0, "memory": 0.0, "integral": 1.0}
    assert shares([slower_but_noisy, clearly_slower]) == {"time": 0.5, "memory": 0.5, "integral": 1.0}


def test_identical_code_is_as_good_without_measurement():
    assert shares([SolutionComparison("reference", identical=True)]) == {
        "time": 1,
        "memory": 1,
        "integral": 1,
    }
    assert shares([SolutionComparison("reference")]) == {"time": 0, "memory": 0, "integral": 0}


def test_aggregate_on_a_hand_computed_suite():
    points = [
        # correct, 2x faster (significant), matches the reference, beats the start
        Point(
            True, "passed", 2.0, (1.8, 2.2), 1.0, False, (ref((0.97, 1.05)), ref((1.8, 2.2), which="start"))
        ),
        # correct, 1.05x (not significant), slower than the reference
        Point(True, "passed", 1.05, (1.0, 1.1), 1.0, False, (ref((0.3, 0.4), mem=2.0, integral=2.0),)),
        # wrong: counts 1.0 in the geomean and 0 in the paper's metrics even with good-looking numbers
        Point(False, "wrong_answer", 9.0, (8.0, 10.0), 0.5, False, (ref((5.0, 6.0)),)),
        # correct, identical to the start, no reference
        Point(True, "passed", 1.0, (1.0, 1.0), 1.0, True, ()),
    ]
    agg = aggregate(points)
    assert agg.n == 4
    assert agg.pass_at_1 == 0.75
    assert agg.significant_rate == 0.25
    assert agg.geomean_speedup == pytest.approx((2.0 * 1.05) ** 0.25)
    assert agg.time_pct == pytest.approx(100 * 1.0 / 4)
    assert agg.memory_pct == pytest.approx(100 * 1.0 / 4)
    assert agg.integral_pct == pytest.approx(100 * 1.0 / 4)
    assert agg.n_with_reference == 3


def test_significance_uses_the_lower_bound_at_the_threshold():
    assert Point(True, speedup=1.3, speedup_ci=(1.1, 1.5)).significant(1.1)
    assert not Point(True, speedup=1.3, speedup_ci=(1.09, 1.5)).significant(1.1)
    assert not Point(True, speedup=None, speedup_ci=None).significant()


def test_geomean_counts_unmeasured_and_failed_as_one():
    pts = [
        Point(True, speedup=4.0),
        Point(True, speedup=None),
        Point(False, speedup=100.0),
        Point(True, speedup=math.nan),
    ]
    assert geomean_speedup(pts) == pytest.approx(4.0**0.25)
    assert geomean_speedup([]) == 1.0


def test_round_curve_carries_the_last_round_forward():
    bad, ok, fast = Point(False), Point(True, speedup=1.0), Point(True, speedup=3.0, speedup_ci=(2.5, 3.5))
    curve = round_curve([[bad, ok, fast], [ok]], final=[fast, ok])
    assert [c.pass_at_1 for c in curve] == [0.5, 1.0, 1.0]
    assert [c.significant_rate for c in curve] == [0.0, 0.0, 0.5]
    assert curve[2].geomean_speedup == pytest.approx(3.0**0.5)
    # a task without rounds falls back to its final point
    assert round_curve([[ok], []], final=[ok, fast])[0].significant_rate == 0.5


def test_points_round_trip_through_json():
    p = Point(True, "passed", 2.0, (1.8, 2.2), 0.9, False, (ref((1.0, 1.2)),))
    assert Point.from_dict(p.to_dict()) == p
