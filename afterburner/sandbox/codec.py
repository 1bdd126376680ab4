"""Outputs as tagged plain data: encoded in the sandboxed child, decoded and compared in the parent.

Stdlib only (the worker imports it inside the sandbox). The encoding checks exact types
(``type(x) is int``, never ``isinstance``), so a subclass or a custom object (for instance one whose
``__eq__`` always says True) becomes ``{"__unsupported__": "TypeName"}``, which decodes to a value
that equals nothing, not even itself. numpy arrays and scalars are taken as ``.tolist()``/``.item()``.

Layout (JSON): None, bool, str, int and finite float are themselves; a list is a JSON array; every
other value is a one-key object: ``{"f": "nan"}`` (non-finite float), ``{"t": [...]}`` tuple,
``{"d": [[k, v], ...]}`` dict, ``{"s": [...]}`` set, ``{"fs": [...]}`` frozenset, ``{"b": hex}``
bytes, ``{"c": [re, im]}`` complex. Sets and dicts are written in a canonical order, so equal values
have equal encodings and the digest of the encoding identifies the outputs.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
MAX_ITEMS = 5_000_000

__all__ = ["Unsupported", "decode", "dumps", "encode", "equal", "short_repr"]


class _Budget:
    __slots__ = ("left",)

    def __init__(self, n: int) -> None:
        self.left = n


def encode(x: Any, _depth: int = 0, _budget: _Budget | None = None) -> Any:
    """Plain JSON-able data for `x` (exact types only)."""
    budget = _budget if _budget is not None else _Budget(MAX_ITEMS)
    budget.left -= 1
    if budget.left < 0:
        return {"__unsupported__": "output too large"}
    if _depth > MAX_DEPTH:
        return {"__unsupported__": "output nested too deeply"}
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x
    if t is float:
        return x if math.isfinite(x) else {"f": repr(x)}
    d = _depth + 1
    if t is list:
        return [encode(v, d, budget) for v in x]
    if t is tuple:
        return {"t": [encode(v, d, budget) for v in x]}
    if t is dict:
        items = [[encode(k, d, budget), encode(v, d, budget)] for k, v in x.items()]
        items.sort(key=lambda kv: _canon(kv[0]))
        return {"d": items}
    if t is set or t is frozenset:
        vals = sorted((encode(v, d, budget) for v in x), key=_canon)
        return {"s" if t is set else "fs": vals}
    if t is bytes or t is bytearray:
        return {"b": bytes(x).hex()}
    if t is complex:
        return {"c": [encode(x.real, d, budget), encode(x.imag, d, budget)]}
    if getattr(t, "__module__", "") == "numpy":
        if hasattr(x, "tolist"):
            try:
                return encode(x.tolist(), _depth, budget)
            except Exception:
                pass
    return {"__unsupported__": getattr(t, "__qualname__", "object")}


def _canon(enc: Any) -> str:
    return json.dumps(enc, sort_keys=True, separators=(",", ":"))


def dumps(x: Any) -> str:
    """The canonical JSON text of `encode(x)` (what digests are taken of)."""
    return _canon(encode(x))


class Unsupported:
    """A decoded value of a type the codec does not carry: equal to nothing."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<unsupported {self.name}>"


def decode(e: Any) -> Any:
    """Builtins back from `encode` output; anything malformed (a forged message) equals nothing."""
    try:
        return _decode(e)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, RecursionError, OverflowError):
        return Unsupported("malformed")


def _decode(e: Any) -> Any:
    if e is None or isinstance(e, bool | str | int | float):
        return e
    if isinstance(e, list):
        return [_decode(v) for v in e]
    if isinstance(e, dict) and len(e) == 1:
        ((tag, v),) = e.items()
        if tag == "f":
            return float(v)
        if tag == "t":
            return tuple(_decode(x) for x in v)
        if tag == "d":
            # an unhashable key (TypeError) cannot come from real data: `decode` makes it Unsupported
            return {_decode(k): _decode(val) for k, val in v}
        if tag in ("s", "fs"):
            vals = [_decode(x) for x in v]
            return set(vals) if tag == "s" else frozenset(vals)
        if tag == "b":
            return bytes.fromhex(v)
        if tag == "c":
            return complex(_decode(v[0]), _decode(v[1]))
        if tag == "__unsupported__":
            return Unsupported(str(v))
    return Unsupported(type(e).__name__)


def equal(
    got: Any, expected: Any, atol: float = 0.0, rtol: float = 1e-9, strict_sequences: bool = True
) -> bool:
    """Compare decoded values: floats within ``atol``/``rtol`` (nan equals nan), bool only to bool.

    With ``strict_sequences=False`` a list equals a tuple with equal items (test cases written in
    JSON/YAML cannot spell tuples).
    """
    try:
        return _equal(got, expected, atol, rtol, strict_sequences)
    except (RecursionError, TypeError, ValueError):
        return False


def _equal(got: Any, expected: Any, atol: float, rtol: float, strict: bool) -> bool:
    tg, te = type(got), type(expected)
    if isinstance(got, Unsupported) or isinstance(expected, Unsupported):
        return False
    if tg is bool or te is bool:
        return tg is te and got == expected
    if tg in (int, float) and te in (int, float):
        if tg is int and te is int:
            return got == expected
        if math.isnan(got) or math.isnan(expected):
            return math.isnan(got) and math.isnan(expected)
        return got == expected or math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)
    if tg is complex and te is complex:
        return _equal(got.real, expected.real, atol, rtol, strict) and _equal(
            got.imag, expected.imag, atol, rtol, strict
        )
    seq = (list, tuple)
    if tg in seq and te in seq:
        if tg is not te and strict:
            return False
        return len(got) == len(expected) and all(
            _equal(g, e, atol, rtol, strict) for g, e in zip(got, expected, strict=True)
        )
    if tg is not te:
        return False
    if tg is dict:
        if got.keys() != expected.keys():
            return False
        return all(_equal(got[k], expected[k], atol, rtol, strict) for k in got)
    if tg in (set, frozenset):  # elements compare with ==: decoded plain data, or Unsupported (never equal)
        return got == expected
    return got == expected


def short_repr(x: Any, limit: int = 300) -> str:
    """A repr cut to `limit` characters (for failure reports and prompts)."""
    try:
        text = repr(x)
    except Exception as e:  # a hostile __repr__ must not break a report
        text = f"<unrepresentable: {type(e).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
