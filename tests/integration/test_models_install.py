"""`afterburner models install`: a copied model (a directory or a GGUF file) goes into an empty Hugging Face
cache under its id and then loads by that id offline; a cached model loads without asking the network.

Each install and load runs in a fresh process with HF_HOME in tmp_path, as a user's shell would.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

pytest.importorskip("transformers")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# Loads MODEL by id with transformers and with afterburner's backend; prints a checksum of the weights,
# the token ids of a text, and the logits of that text (the first 8), as JSON.
_LOAD = """
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from afterburner.llm import get_backend
model_id = sys.argv[1]
lm = AutoModelForCausalLM.from_pretrained(model_id, dtype=torch.float32)
tok = AutoTokenizer.from_pretrained(model_id)
backend = get_backend("transformers", model=model_id, dtype="float32", device="cpu")
ids = tok("def f(x):\\n    return x + 1\\n").input_ids
with torch.no_grad():
    logits = lm(torch.tensor([ids])).logits[0, -1, :8].tolist()
print(json.dumps({"ids": ids, "logits": logits, "chat": bool(backend.tokenizer.chat_template),
                  "n_params": sum(p.numel() for p in lm.parameters())}))
"""


def _env(hf_home: Path, offline: bool = True, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(hf_home), **extra)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def _run(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _install(env: dict, *args: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "afterburner", "models", "install", *args], env)


def _load(env: dict, model_id: str) -> dict:
    proc = _run([sys.executable, "-c", _LOAD, model_id], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _reference(model_dir: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lm = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    ids = AutoTokenizer.from_pretrained(str(model_dir))("def f(x):\n    return x + 1\n").input_ids
    with torch.no_grad():
        logits = lm(torch.tensor([ids])).logits[0, -1, :8].tolist()
    return {"ids": ids, "logits": logits, "n_params": sum(p.numel() for p in lm.parameters())}


def test_install_from_a_model_directory_then_load_it_by_id_offline(tiny_model_dir, tmp_path):
    hf_home = tmp_path / "hf"  # an empty cache
    env = _env(hf_home)
    before = _load_fails(env, "tiny-org/tiny-qwen2")
    assert "afterburner models install tiny-org/tiny-qwen2" in before  # the missing-model error says how

    proc = _install(env, "tiny-org/tiny-qwen2", "--from", str(tiny_model_dir))
    assert proc.returncode == 0, proc.stderr
    assert "installed tiny-org/tiny-qwen2" in proc.stdout and "--model tiny-org/tiny-qwen2" in proc.stdout

    repo = hf_home / "hub" / "models--tiny-org--tiny-qwen2"
    rev = (repo / "refs" / "main").read_text()
    snapshot = repo / "snapshots" / rev
    assert len(rev) == 40 and (snapshot / "config.json").is_symlink()  # the hub cache's own layout
    assert (snapshot / "model.safetensors").resolve().parent == (repo / "blobs").resolve()

    got, want = _load(env, "tiny-org/tiny-qwen2"), _reference(tiny_model_dir)
    assert got["ids"] == want["ids"] and got["n_params"] == want["n_params"] and got["chat"]
    assert got["logits"] == pytest.approx(want["logits"], abs=1e-5)  # the same weights

    again = _install(env, "tiny-org/tiny-qwen2", "--from", str(tiny_model_dir))
    assert again.returncode == 0 and (repo / "refs" / "main").read_text() == rev  # same copy, same snapshot
    assert len(list((repo / "snapshots").iterdir())) == 1


def _load_fails(env: dict, model_id: str) -> str:
    code = (
        "import sys\nfrom afterburner.llm import get_backend\nfrom afterburner.errors import BackendError\n"
        "try:\n    get_backend('transformers', model=sys.argv[1])\nexcept BackendError as e:\n"
        "    print(e)\n    sys.exit(3)\n"
    )
    proc = _run([sys.executable, "-c", code, model_id], env)
    assert proc.returncode == 3, proc.stderr[-2000:]
    return proc.stdout.strip()


def _write_gguf(model_dir: Path, out: Path) -> None:
    """Write the tiny Qwen2 of `model_dir` as an unquantized (F32) GGUF file, tokenizer included."""
    import gguf
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lm = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    cfg = lm.config
    w = gguf.GGUFWriter(str(out), "qwen2")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    rope = getattr(cfg, "rope_theta", None) or cfg.rope_parameters["rope_theta"]
    w.add_rope_freq_base(float(rope))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    spec = json.loads((model_dir / "tokenizer.json").read_text())
    vocab = {**spec["model"]["vocab"], **{t["content"]: t["id"] for t in spec["added_tokens"]}}
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = {t["content"] for t in spec["added_tokens"]}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]])
    w.add_eos_token_id(tok.eos_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    w.add_chat_template(tok.chat_template)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, cfg.num_hidden_layers)
    for name, tensor in lm.state_dict().items():
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        w.add_tensor(
            names.get_name(name, try_suffixes=(".weight", ".bias")), tensor.numpy().astype(np.float32)
        )
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_install_from_a_gguf_file_converts_it_and_it_loads_by_id_offline(tiny_model_dir, tmp_path):
    pytest.importorskip("gguf")
    gguf_file = tmp_path / "copied" / "tiny-qwen2-f32.gguf"
    gguf_file.parent.mkdir()
    _write_gguf(tiny_model_dir, gguf_file)
    hf_home = tmp_path / "hf"
    env = _env(hf_home)

    proc = _install(env, "tiny-org/tiny-gguf", "--from", str(gguf_file))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "converting tiny-qwen2-f32.gguf" in proc.stdout

    snapshot = Path(
        hf_home,
        "hub",
        "models--tiny-org--tiny-gguf",
        "snapshots",
        (hf_home / "hub" / "models--tiny-org--tiny-gguf" / "refs" / "main").read_text(),
    )
    assert (snapshot / "model.safetensors").is_file() and (snapshot / "tokenizer.json").is_file()
    assert "quantization_config" not in json.loads((snapshot / "config.json").read_text())

    got, want = _load(env, "tiny-org/tiny-gguf"), _reference(tiny_model_dir)
    assert got["ids"] == want["ids"] and got["n_params"] == want["n_params"] and got["chat"]
    # stored as bfloat16: the logits agree to bfloat16's precision
    assert got["logits"] == pytest.approx(want["logits"], abs=0.05 * max(map(abs, want["logits"])))


def test_install_without_the_hub_says_to_use_from_and_bad_sources_are_one_line(tmp_path, tiny_model_dir):
    env = _env(tmp_path / "hf")
    proc = _install(env, "tiny-org/nothing")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "HF_HUB_OFFLINE is set" in proc.stderr and "--from PATH" in proc.stderr

    proc = _install(env, "tiny-org/x", "--from", str(tmp_path / "nope.gguf"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr

    (tmp_path / "empty").mkdir()
    proc = _install(env, "tiny-org/x", "--from", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "holds no model" in proc.stderr

    proc = _install(env, "not-an-id", "--from", str(tiny_model_dir))
    assert proc.returncode == 2 and "ORG/NAME" in proc.stderr
    assert not (tmp_path / "hf" / "hub").exists() or not any((tmp_path / "hf" / "hub").iterdir())


class _CountingHub(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def _answer(self) -> None:
        _CountingHub.requests.append(f"{self.command} {self.path}")
        self.send_response(503)  # like an unreachable hub: a client that asks would retry and wait
        self.end_headers()

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


# Loads a cached model by id for optimize (the backend) and for training (load_policy), on its own
# and as the base of a LoRA adapter, and saves an adapter as training does.
_LOAD_FOR_BOTH = """
import json, sys
from pathlib import Path
from afterburner.llm import get_backend
from afterburner.llm.testing import make_tiny_adapter
from training.common import load_policy
from training.config import TrainConfig
model_id, adapter = sys.argv[1], Path(sys.argv[2])
get_backend("transformers", model=model_id, dtype="float32", device="cpu")
load_policy(TrainConfig(model=model_id, use_cpu=True))
make_tiny_adapter(Path(sys.argv[3]), adapter)
config = json.loads((adapter / "adapter_config.json").read_text())
config["base_model_name_or_path"] = model_id
(adapter / "adapter_config.json").write_text(json.dumps(config))
from afterburner.llm.transformers_backend import clear_cache
clear_cache()
get_backend("transformers", model=str(adapter), dtype="float32", device="cpu")
model, tok, _ = load_policy(TrainConfig(model=str(adapter), use_cpu=True))
model.save_pretrained(str(adapter) + "-saved")
print("ok")
"""


def test_a_cached_model_loads_for_optimize_and_train_without_asking_the_hub(tiny_model_dir, tmp_path):
    pytest.importorskip("peft")
    hf_home = tmp_path / "hf"
    assert _install(_env(hf_home), "tiny-org/tiny-qwen2", "--from", str(tiny_model_dir)).returncode == 0

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _CountingHub.requests = []
    try:  # HF_HUB_OFFLINE unset, and the hub endpoint is a local server that counts what it is asked
        env = _env(hf_home, offline=False, HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}")
        proc = _run(
            [
                sys.executable,
                "-c",
                _LOAD_FOR_BOTH,
                "tiny-org/tiny-qwen2",
                str(tmp_path / "lora"),
                str(tiny_model_dir),
            ],
            env,
        )
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _CountingHub.requests == []
    assert "Retrying" not in proc.stderr and "Unable to fetch remote file" not in proc.stderr
