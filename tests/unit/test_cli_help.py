"""Every subcommand's help renders (a stray % in a help string breaks argparse at run time), every option
says what it does and its default, and the old option spellings still work."""

import argparse

import pytest

from afterburner.cli import SUBCOMMANDS, build_parser, main


def test_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help_renders(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    assert "usage:" in capsys.readouterr().out


def _parsers(parser: argparse.ArgumentParser, path: str = "afterburner"):
    """Every parser under `parser`, with its command path (train collect, models install, ...)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


FLAGS = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._HelpAction,
    argparse._VersionAction,
    argparse._SubParsersAction,
)


def _options():
    for path, parser in _parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:  # a deprecated spelling, hidden on purpose
                continue
            yield path, action, formatter


@pytest.mark.parametrize(
    ("path", "action", "formatter"),
    [pytest.param(*o, id=f"{o[0]} {'/'.join(o[1].option_strings) or o[1].dest}") for o in _options()],
)
def test_every_option_says_what_it_does_and_its_default(path, action, formatter):
    if isinstance(action, argparse._SubParsersAction):  # the subcommands: each says what it does
        for choice in action._choices_actions:
            assert choice.help and choice.help.strip(), f"{path} {choice.dest}: no help"
        return
    assert action.help and action.help.strip(), f"{path}: {action.option_strings or action.dest} has no help"
    if isinstance(action, FLAGS) or (not action.option_strings and action.default is None):
        return  # a flag is off unless given; a required positional has no default
    text = formatter._expand_help(action)  # %(default)s filled in, as --help shows it
    assert "default" in text or "required" in text, f"{path} {action.option_strings}: no default in {text!r}"
    if action.default not in (None, "", [], argparse.SUPPRESS):
        shown = str(action.default)
        assert shown in text, f"{path} {action.option_strings}: the help does not give the default {shown!r}"


def test_optimize_help_gives_each_strategy_its_candidates_and_the_patience_default(capsys):
    with pytest.raises(SystemExit):
        main(["optimize", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for fragment in (
        "default 4, afterburner 1, baseline 4",
        "(default: 2;",
        "(default: 512)",
        "(default: 0.7)",
    ):
        assert fragment in out
    assert "--out-dir" not in out and "--runs-dir" in out  # the old spelling works but is not advertised


@pytest.mark.parametrize(
    ("argv", "dest", "old", "new"),
    [
        (["optimize", "x.py::f", "--out-dir", "R"], "runs_dir", "--out-dir", "--runs-dir"),
        (["optimize", "x.py::f", "--out-dir=R"], "runs_dir", "--out-dir", "--runs-dir"),
        (["bench", "suite", "--out", "R"], "results_dir", "--out", "--results-dir"),
        (
            ["train", "collect", "--tasks", "t.jsonl", "--out", "R"],
            "trajectories_dir",
            "--out",
            "--trajectories-dir",
        ),
    ],
)
def test_old_option_spellings_still_work_with_a_note(argv, dest, old, new, capsys):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == "R"
    err = capsys.readouterr().err
    assert f"{old} is deprecated, use {new}" in err and len(err.strip().splitlines()) == 1


def test_new_spellings_say_nothing(capsys):
    args = build_parser().parse_args(["optimize", "x.py::f", "--runs-dir", "R", "--out", "fast.py"])
    assert (args.runs_dir, args.out) == ("R", "fast.py") and capsys.readouterr().err == ""
    assert build_parser().parse_args(["optimize", "x.py::f"]).runs_dir == "afterburner-runs"
