"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM serve, transformers serve, llama.cpp, ...).

    get_backend("openai", model="gpt-4o-mini")                       # OPENAI_BASE_URL / OPENAI_API_KEY
    get_backend("openai", model="Qwen/Qwen2.5-Coder-0.5B-Instruct", base_url="http://127.0.0.1:8000/v1")

Base URL and key come from the options, else ``AFTERBURNER_OPENAI_BASE_URL`` / ``OPENAI_BASE_URL`` and
``AFTERBURNER_OPENAI_API_KEY`` / ``OPENAI_API_KEY``. Each request asks for ``n`` choices; from a
server that returns fewer, the rest are asked for one at a time, concurrently (``concurrency`` at a
time, as are conversations). 429, 5xx, timeouts and dropped connections are retried with exponential
backoff and jitter; a refused connection or a 4xx answer is a `BackendError` at once, with the
server's message. Every request has a timeout.

``continue_final_message=True`` tells the server to continue a conversation that ends with an assistant
message (the optimizer then prefills the reply with the code fence and the target's signature). vLLM's
server (``vllm serve``) takes it (``continue_final_message``/``add_generation_prompt`` in the body);
OpenAI's own API and most proxies do not, so it is off by default and the optimizer sends no prefill.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import tenacity

from afterburner.errors import BackendError
from afterburner.llm.base import DEFAULT_MODEL, Completion, Conversation, Sampling

__all__ = ["OpenAIBackend"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class _Retryable(Exception):
    """A failure worth another try (429, 5xx, timeout, dropped connection)."""


class OpenAIBackend:
    """Chat completions over HTTP, with `n` choices per conversation."""

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 5,
        retry_wait: float = 1.0,
        concurrency: int = 4,
        extra_body: dict[str, Any] | None = None,
        continue_final_message: bool = False,
    ) -> None:
        self.model = model or os.environ.get("AFTERBURNER_OPENAI_MODEL") or DEFAULT_MODEL
        self.base_url = (
            base_url
            or os.environ.get("AFTERBURNER_OPENAI_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or DEFAULT_BASE_URL
        ).rstrip("/")
        key = api_key or os.environ.get("AFTERBURNER_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.max_retries = max(0, int(max_retries))
        self.retry_wait = retry_wait
        self.concurrency = max(1, int(concurrency))
        self.extra_body = dict(extra_body or {})
        self.continues_final_message = bool(continue_final_message)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
        )

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def generate(
        self, conversations: Sequence[Conversation], n: int = 1, sampling: Sampling | None = None
    ) -> list[list[Completion]]:
        sampling = sampling or Sampling()
        if len(conversations) <= 1 or self.concurrency == 1:
            return [self._complete(c, n, sampling) for c in conversations]
        with ThreadPoolExecutor(min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(lambda c: self._complete(c, n, sampling), conversations))

    def _complete(self, conversation: Conversation, n: int, sampling: Sampling) -> list[Completion]:
        out = self._request(conversation, n, sampling, 1)
        if len(out) < n:
            # The server ignores n (transformers serve, some proxies): ask for the rest one by one,
            # concurrently, so that a batching server can batch them.
            attempts = range(2, n - len(out) + 2)
            workers = min(self.concurrency, len(attempts))
            with ThreadPoolExecutor(workers) as pool:
                for got in pool.map(lambda k: self._request(conversation, 1, sampling, k), attempts):
                    out += got
        return out[:n]

    def _request(
        self, conversation: Conversation, n: int, sampling: Sampling, attempt: int
    ) -> list[Completion]:
        got = self._parse(self._post(self._body(conversation, n, sampling, attempt)), sampling)
        if not got:
            raise BackendError(f"server at {self.base_url} returned no choices for model {self.model!r}")
        return got

    def _body(self, conversation: Conversation, n: int, sampling: Sampling, attempt: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in conversation],
            "n": n,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_new_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed + attempt - 1  # a server that ignores n must not repeat itself
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if self.continues_final_message and conversation and conversation[-1].get("role") == "assistant":
            body.update(continue_final_message=True, add_generation_prompt=False)  # vLLM's server
        body.update(self.extra_body)
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.retry_wait, max=30 * self.retry_wait)
            + tenacity.wait_random(0, self.retry_wait),  # jitter
            reraise=True,
        )
        try:
            return retrying(self._post_once, body)
        except _Retryable as e:
            raise BackendError(f"{e} (gave up after {self.max_retries + 1} attempts)") from None

    def _post_once(self, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        try:
            r = self._client.post("/chat/completions", json=body)
        except httpx.ConnectError as e:
            raise BackendError(
                f"cannot connect to {url}: {e or 'connection refused'}; is the server running "
                "(check base_url / OPENAI_BASE_URL)?"
            ) from None
        except httpx.TimeoutException:
            raise _Retryable(f"{url} timed out") from None
        except httpx.TransportError as e:
            raise _Retryable(f"{url} dropped the connection: {e}") from None
        if r.status_code == 429 or r.status_code >= 500:
            raise _Retryable(f"{url} answered {r.status_code}: {_message(r)}")
        if r.status_code >= 400:
            hint = {401: " (check the API key)", 404: " (check base_url and the model name)"}
            raise BackendError(
                f"{url} refused the request: {r.status_code} {_message(r)}{hint.get(r.status_code, '')}"
            )
        try:
            return r.json()
        except ValueError:
            raise BackendError(f"{url} answered with something that is not JSON: {r.text[:200]!r}") from None

    def _parse(self, data: dict[str, Any], sampling: Sampling) -> list[Completion]:
        choices = data.get("choices") or []
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        texts = [((c.get("message") or {}).get("content") or "") for c in choices]
        shares = _split(int(usage.get("completion_tokens") or 0), texts)
        out = []
        for choice, text, tokens in zip(choices, texts, shares, strict=True):
            extra: dict[str, Any] = {}
            reason = choice.get("stop_reason")  # vLLM and others tell which stop string ended the text
            if isinstance(reason, str) and reason in sampling.stop:
                extra["stopped_by"] = reason
            if len(choices) > 1:
                extra["tokens_estimated"] = True  # usage is per request: split by length
            finish = choice.get("finish_reason") or "stop"
            out.append(
                Completion(
                    text=text,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=tokens,
                    finish_reason="length" if finish == "length" else "stop",
                    extra=extra,
                )
            )
        return out


def _split(total: int, texts: list[str]) -> list[int]:
    """`total` tokens shared among `texts` in proportion to their length (the shares add up)."""
    if not texts:
        return []
    lengths = [len(t) for t in texts]
    whole = sum(lengths) or len(texts)
    shares = [total * (ln or (0 if sum(lengths) else 1)) // whole for ln in lengths]
    shares[max(range(len(texts)), key=lambda i: lengths[i])] += total - sum(shares)
    return shares


def _message(r: httpx.Response) -> str:
    try:
        data = r.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message") or err.get("detail") or err if isinstance(err, dict) else err
    except ValueError:
        msg = r.text
    line = " ".join(str(msg).split())
    return line[:300] if line else r.reason_phrase
