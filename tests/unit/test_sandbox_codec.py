"""The output codec: types survive, hostile objects never compare equal, digests are canonical."""

from __future__ import annotations

import math

import pytest

from afterburner.sandbox import codec


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**40),
        1.5,
        "héllo\udcff",
        b"\x00\xff",
        [1, (2, 3)],
        {"a": [1], (1, 2): {3}},
        frozenset({1, 2}),
        1 + 2j,
        (),
        [],
        {},
    ],
)
def test_round_trip_keeps_types(value):
    back = codec.decode(codec.encode(value))
    assert back == value and type(back) is type(value)


def test_special_floats_round_trip_and_nan_equals_nan():
    back = codec.decode(codec.encode([math.inf, -math.inf, math.nan]))
    assert back[:2] == [math.inf, -math.inf] and math.isnan(back[2])
    assert codec.equal(back, [math.inf, -math.inf, math.nan])


def test_subclasses_and_custom_objects_are_unsupported_and_never_equal():
    class Yes(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class AlwaysEqual:
        def __eq__(self, other):
            return True

    for hostile in (Yes(3), AlwaysEqual(), [AlwaysEqual()]):
        enc = codec.encode(hostile)
        assert "__unsupported__" in codec._canon(enc)
        got = codec.decode(enc)
        assert not codec.equal(got, 3) and not codec.equal(got, [3]) and not codec.equal(got, got)


def test_bool_is_not_int_and_list_is_not_tuple_unless_lenient():
    assert not codec.equal(True, 1)
    assert codec.equal(1, 1.0)
    assert not codec.equal([1, 2], (1, 2))
    assert codec.equal([1, 2], (1, 2), strict_sequences=False)


def test_float_tolerance():
    assert codec.equal(0.1 + 0.2, 0.3)
    assert not codec.equal(1.0, 1.1)
    assert codec.equal(1.0, 1.05, atol=0.1)


def test_canonical_encoding_ignores_set_and_dict_order():
    assert codec.dumps({3, 1, 2}) == codec.dumps({2, 3, 1})
    assert codec.dumps({"b": 1, "a": 2}) == codec.dumps({"a": 2, "b": 1})


def test_depth_and_size_are_capped():
    deep: list = []
    cur = deep
    for _ in range(codec.MAX_DEPTH + 5):
        cur.append([])
        cur = cur[0]
    assert "nested too deeply" in codec.dumps(deep)


def test_numpy_values_become_plain_data():
    np = pytest.importorskip("numpy")
    assert codec.decode(codec.encode(np.arange(3))) == [0, 1, 2]
    assert codec.decode(codec.encode(np.float64(1.5))) == 1.5


def test_short_repr_survives_a_hostile_repr():
    class Bad:
        def __repr__(self):
            raise RuntimeError("no")

    assert "unrepresentable" in codec.short_repr(Bad())
    assert len(codec.short_repr("x" * 1000, 50)) == 50


@pytest.mark.parametrize(
    "forged",
    [
        {"f": None},
        {"t": 5},
        {"d": [[[1], 2]]},
        {"s": [[1]]},
        {"b": "zz"},
        {"c": [1]},
        {"a": 1, "b": 2},
        {"x": 1},
    ],
)
def test_malformed_encodings_decode_to_something_equal_to_nothing(forged):
    got = codec.decode(forged)
    assert not codec.equal(got, got) and not codec.equal(got, None)
