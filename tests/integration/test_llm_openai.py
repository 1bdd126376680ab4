"""The openai backend against servers started by the test on 127.0.0.1: a tiny scripted one (retries,
refusals, a closed port, a server that ignores n), and the real `transformers serve` (slow)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from afterburner.errors import BackendError
from afterburner.llm import Sampling, extract_code, get_backend

pytestmark = pytest.mark.integration
CONV = [{"role": "user", "content": "make it fast"}]


def chat_reply(n, text="```python\ndef f(x):\n    return x\n```"):
    choices = [
        {"index": i, "message": {"role": "assistant", "content": f"{text} #{i}"}, "finish_reason": "stop"}
        for i in range(n)
    ]
    return 200, {"choices": choices, "usage": {"prompt_tokens": 7, "completion_tokens": 10 * n}}


class FakeServer:
    """Answers each POST with the next scripted (status, body) or callable(request) -> (status, body)."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                step = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                status, payload = step(body) if callable(step) else step
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(*script):
        servers.append(FakeServer(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def backend(server, **kw):
    return get_backend("openai", model="m", base_url=server.url, api_key="sk-test", retry_wait=0.01, **kw)


def test_n_choices_in_one_request_with_sampling_sent(serve):
    server = serve(lambda body: chat_reply(body["n"]))
    s = Sampling(temperature=0.3, top_p=0.9, max_new_tokens=55, seed=4, stop=("</solution>",))
    [row] = backend(server).generate([CONV], n=3, sampling=s)
    assert [c.text[-2:] for c in row] == ["#0", "#1", "#2"]
    assert sum(c.completion_tokens for c in row) == 30 and row[0].prompt_tokens == 7
    [req] = server.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert (req["model"], req["n"], req["temperature"], req["top_p"], req["max_tokens"], req["seed"]) == (
        "m",
        3,
        0.3,
        0.9,
        55,
        4,
    )
    assert req["stop"] == ["</solution>"] and req["messages"] == CONV
    assert extract_code(row[0].text, "f").ok


def test_server_that_ignores_n_gets_more_requests(serve):
    server = serve(lambda body: chat_reply(1))
    out = backend(server).generate([CONV, CONV], n=3, sampling=Sampling(seed=1))
    assert [len(row) for row in out] == [3, 3] and len(server.requests) == 6
    assert sorted({r["seed"] for r in server.requests}) == [1, 2, 3]  # not the same sample thrice


def test_429_and_5xx_are_retried(serve):
    server = serve(
        (429, {"error": {"message": "rate limited"}}), (503, {"error": {"message": "busy"}}), chat_reply(1)
    )
    [[c]] = backend(server).generate([CONV])
    assert c.text.endswith("#0") and len(server.requests) == 3


def test_retries_give_up_with_the_last_error(serve):
    server = serve((500, {"error": {"message": "kaput"}}))
    with pytest.raises(BackendError, match=r"answered 500: kaput \(gave up after 3 attempts\)"):
        backend(server, max_retries=2).generate([CONV])
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        (401, "Incorrect API key provided", "check the API key"),
        (404, "model m does not exist", "model name"),
        (400, "max_tokens is too large", ""),
    ],
)
def test_refusals_are_one_clear_line_without_retry(serve, status, message, hint):
    server = serve((status, {"error": {"message": message}}))
    with pytest.raises(BackendError) as e:
        backend(server).generate([CONV])
    assert f"{status} {message}" in str(e.value) and hint in str(e.value) and "\n" not in str(e.value)
    assert len(server.requests) == 1


def test_closed_port_fails_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = get_backend("openai", model="m", base_url=f"http://127.0.0.1:{port}/v1", retry_wait=0.01)
    t = time.monotonic()
    with pytest.raises(BackendError, match=r"cannot connect to .*is the server running"):
        b.generate([CONV])
    assert time.monotonic() - t < 3


def test_a_server_that_hangs_times_out(serve):
    def slow(body):
        time.sleep(2)
        return chat_reply(1)

    server = serve(slow)
    t = time.monotonic()
    with pytest.raises(BackendError, match="timed out"):
        backend(server, timeout=0.3, max_retries=1).generate([CONV])
    assert time.monotonic() - t < 2 and len(server.requests) == 2


def test_base_url_and_key_from_the_environment(serve, monkeypatch):
    server = serve(chat_reply(1))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AFTERBURNER_OPENAI_BASE_URL", server.url)  # ours wins
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    get_backend("openai", model="m").generate([CONV])
    assert server.requests[0]["auth"] == "Bearer sk-env"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_against_a_real_transformers_serve():
    """`transformers serve` (in the main venv) serving the default model on 127.0.0.1."""
    cli = os.path.join(os.path.dirname(sys.executable), "transformers")
    if not os.path.exists(cli):
        pytest.skip("the transformers CLI is not installed")
    model = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", str(port), model],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "transformers serve did not become ready in 180 s"
            time.sleep(1)
        b = get_backend("openai", model=model, base_url=f"http://127.0.0.1:{port}/v1", api_key="none")
        conv = [
            {
                "role": "user",
                "content": "Write a Python function add(a, b) that returns a + b. Only the code.",
            }
        ]
        [row] = b.generate([conv], n=2, sampling=Sampling(temperature=0.2, max_new_tokens=60, seed=0))
        assert len(row) == 2  # the server ignores n: the backend asked twice
        assert all(c.text and c.prompt_tokens > 10 and 0 < c.completion_tokens <= 60 for c in row)
        assert any(extract_code(c.text, "add").ok for c in row), [c.text for c in row]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
