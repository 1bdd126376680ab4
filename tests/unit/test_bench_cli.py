"""`afterburner bench` bad input: one clear line on stderr, exit 2, nothing run."""

import pytest

from afterburner.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "no/such/suite"], "suite 'no/such/suite' does not exist"),
        (["bench", "SUITE", "--resume"], "--resume needs --results-dir"),
        (["bench", "SUITE", "--report"], "--report needs --results-dir"),
        (["bench", "SUITE", "--strategy", "fastest"], "unknown strategy 'fastest'"),
        (["bench", "SUITE", "--model", "replay:reference"], "use it with --backend scripted"),
        (["bench", "SUITE", "--backend", "scripted", "--model", "replay:magic"], "unknown replay model"),
        (["bench", "SUITE", "--workers", "0"], "--workers must be at least 1"),
        (["bench", "SUITE", "--shard", "2/2"], "give I/N with 0 <= I < N"),
        (["bench", "SUITE", "--split", "test"], "has no train/test split"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "t.yaml").write_text("name: t\nentry_point: f\ncode: 'def f(): return 1'\n")
    argv = [str(suite) if a == "SUITE" else a for a in argv] + ["--results-dir", str(tmp_path / "out")] * (
        "--resume" not in argv and "--report" not in argv
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("afterburner: error:") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "results.jsonl").exists()
