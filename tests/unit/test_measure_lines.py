"""`afterburner measure`'s rows read as English: one input, two inputs."""

import pytest

from afterburner.cli.measure_cmd import measurement_lines
from afterburner.results import Measurement, Status


@pytest.mark.parametrize(
    ("n", "text"), [(1, "(1 input per run)"), (2, "(2 inputs per run)"), (0, "(0 inputs per run)")]
)
def test_inputs_per_run_is_pluralized(n, text):
    m = Measurement(Status.PASSED, details={"isolation": "bwrap", "workload": "workload", "n_inputs": n})
    [sandbox] = [v for k, v in measurement_lines(m) if k == "sandbox"]
    assert text in sandbox
