"""The `afterburner` command: parse, call the library, print. One module per subcommand.

Each subcommand module defines ``register(subparsers)`` (adds its parser and sets ``func``), imports
nothing heavy at module level, and raises `AfterburnerError` for bad input: `main` turns that into
one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from afterburner.errors import AfterburnerError

SUBCOMMANDS = ("measure", "compare", "optimize", "trace", "bench", "train", "models", "sandbox")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="afterburner",
        description="Make code faster with language models, and prove it.",
    )
    from afterburner import __version__

    parser.add_argument("--version", action="version", version=f"afterburner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"afterburner.cli.{name}_cmd")
        except ModuleNotFoundError as e:
            if e.name != f"afterburner.cli.{name}_cmd":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except AfterburnerError as e:
        print(f"afterburner: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("afterburner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
