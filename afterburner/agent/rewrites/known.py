"""What the analysis knows of Python and its libraries: which modules, builtins and methods are pure."""

from __future__ import annotations

IMPURE_MODULES = {
    "random", "time", "os", "sys", "io", "logging", "secrets", "uuid", "datetime", "socket", "subprocess",
    "shutil", "pathlib", "threading", "multiprocessing", "tempfile", "pickle", "builtins", "numpy.random",
    "requests", "urllib", "http", "sqlite3", "asyncio", "signal", "gc", "warnings", "inspect", "importlib",
}  # fmt: skip
PURE_ROOTS = {
    "math", "cmath", "numpy", "scipy", "statistics", "itertools", "operator", "functools", "string", "re",
    "collections", "fractions", "decimal", "bisect", "heapq", "copy", "json", "unicodedata", "textwrap",
}  # fmt: skip
MUTATES_FIRST_ARG = {
    "numpy.copyto", "numpy.put", "numpy.place", "numpy.putmask", "numpy.fill_diagonal", "heapq.heappush",
    "heapq.heappop", "heapq.heapify", "heapq.heappushpop", "heapq.heapreplace", "bisect.insort",
    "bisect.insort_left", "bisect.insort_right",
}  # fmt: skip
# builtins that change nothing given to them (some are not deterministic or not worth hoisting)
SAFE_BUILTINS = {
    "len", "abs", "min", "max", "sum", "round", "int", "float", "bool", "str", "repr", "sorted", "tuple",
    "divmod", "pow", "ord", "chr", "frozenset", "list", "dict", "set", "any", "all", "isinstance",
    "issubclass", "hash", "reversed", "enumerate", "zip", "range", "type", "callable", "hasattr", "format",
    "complex", "bin", "hex", "oct", "map", "filter", "iter", "slice", "bytes", "ValueError", "TypeError",
    "KeyError", "IndexError", "ZeroDivisionError", "RuntimeError", "ArithmeticError", "OverflowError",
}  # fmt: skip
NONMUTATING_METHODS = {
    "copy", "mean", "sum", "std", "var", "min", "max", "prod", "dot", "reshape", "astype", "transpose",
    "ravel", "flatten", "tolist", "conj", "round", "cumsum", "cumprod", "argsort", "argmax", "argmin", "any",
    "all", "nonzero", "count", "index", "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit",
    "splitlines", "join", "replace", "startswith", "endswith", "find", "rfind", "format", "encode",
    "decode", "keys", "values", "items", "get", "isdigit", "isalpha", "isalnum", "isspace", "isupper",
    "islower", "title", "capitalize", "casefold", "partition", "rpartition", "zfill", "center", "ljust",
    "rjust", "diagonal", "trace", "item", "squeeze", "swapaxes", "clip", "searchsorted", "most_common",
    "bit_length", "is_integer", "hex", "union", "intersection", "difference", "symmetric_difference",
    "issubset", "issuperset", "isdisjoint", "removeprefix", "removesuffix", "expandtabs", "translate",
}  # fmt: skip
IO_BUILTINS = {"print", "open", "input", "exec", "eval", "breakpoint", "compile", "next", "setattr",
                "delattr", "globals", "vars", "locals", "__import__", "exit", "quit", "help", "id"}  # fmt: skip
