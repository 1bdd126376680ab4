"""The few exceptions afterburner raises for its own faults and for bad input.

Results of running untrusted code are never exceptions: they are data (see `afterburner.sandbox`).
The CLI turns every `AfterburnerError` into one clean line on stderr and a non-zero exit.
"""


class AfterburnerError(Exception):
    """Base class: something the user can fix, with a message that says what and how."""


class TaskError(AfterburnerError):
    """A task, target, tests file or workload that cannot be loaded or used."""


class SandboxError(AfterburnerError):
    """The sandbox itself failed (not the candidate): could not start, lost its worker, ..."""


class BackendError(AfterburnerError):
    """An LLM backend that cannot be chosen, loaded or reached."""


class ConfigError(AfterburnerError):
    """A configuration value or file that is not valid."""
