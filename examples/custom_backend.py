"""A custom LLM backend, chosen by its import path: any class with `name`, `model` and `generate`.

This one needs no model: it answers with the known fast version of an example (``examples/<name>_fast.py``),
found from the function named in the prompt. Replace `_answer` with a call to your own model or service.

    PYTHONPATH=. afterburner optimize examples/bfs.py::bfs_distances --tests examples/bfs_tests.py \
        --workload examples/bfs_workload.py --backend examples.custom_backend:KnownAnswerBackend

or from Python: ``afterburner.optimize(task, backend=KnownAnswerBackend())``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from afterburner.llm import Completion, Conversation, Sampling

HERE = Path(__file__).resolve().parent


class KnownAnswerBackend:
    """Returns the fast version of the example whose function the prompt asks for."""

    name = "known-answer"

    def __init__(self, model: str | None = None) -> None:
        self.model = model or str(HERE)  # here: the directory holding the *_fast.py files

    def generate(
        self, conversations: Sequence[Conversation], n: int = 1, sampling: Sampling | None = None
    ) -> list[list[Completion]]:
        out = []
        for conversation in conversations:
            prompt = conversation[-1]["content"]
            text = self._answer(prompt)
            out.append(
                [
                    Completion(
                        text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(text.split())
                    )
                    for _ in range(n)
                ]
            )
        return out

    def _answer(self, prompt: str) -> str:
        m = re.search(r"complete new `(\w+)`", prompt)
        for path in sorted(Path(self.model).glob("*_fast.py")):
            code = path.read_text()
            if m and re.search(rf"^def {m.group(1)}\(", code, re.M):
                return f"```python\n{code}```\n"
        return "I do not know a faster version."


if __name__ == "__main__":
    import afterburner

    result = afterburner.optimize(
        str(HERE / "bfs.py") + "::bfs_distances",
        tests=HERE / "bfs_tests.py",
        workload=HERE / "bfs_workload.py",
        backend=KnownAnswerBackend(),
        rounds=1,
        candidates=1,
    )
    print(
        f"{result.status}: {result.speedup:.2f}x (95% CI {result.speedup_ci[0]:.2f}-{result.speedup_ci[1]:.2f})"
    )
