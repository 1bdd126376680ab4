"""Models in the local Hugging Face cache: install one (from the hub, a model directory or a GGUF file),
and find one there without asking the network.

    from afterburner.llm.models import install_model, cached_snapshot
    install_model("Qwen/Qwen2.5-Coder-0.5B-Instruct")                         # from the hub
    install_model("Qwen/Qwen2.5-Coder-0.5B-Instruct", source="qwen-q4.gguf")  # offline, from a copy
    cached_snapshot("Qwen/Qwen2.5-Coder-0.5B-Instruct")   # its snapshot folder, or None when not cached

A copy is laid out as the hub cache lays out a download (``models--ORG--NAME/{blobs,refs/main,
snapshots/<rev>}``, files as links to content-addressed blobs), so ``from_pretrained(ID)`` and
``--model ID`` load it like a downloaded model, offline. A GGUF file is converted once to a dense
safetensors checkpoint (bfloat16) with its tokenizer. torch/transformers are imported only for that.

The in-process backends keep what they loaded in a `LoadedModels` (one per backend), and fail at once
with `require_hub` when a model is neither local nor cached and the hub is out of reach.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from afterburner.errors import BackendError
from afterburner.llm.base import DEFAULT_MODEL

__all__ = [
    "INSTALL_HINT",
    "LoadedModels",
    "cached_snapshot",
    "hub_cache_dir",
    "hub_reachable",
    "install_model",
    "require_hub",
    "resolve_local",
]

INSTALL_HINT = "afterburner models install {model}"  # what the missing-model errors tell the user to run

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def hub_cache_dir() -> Path:
    """The hub cache folder in use (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ~/.cache/huggingface/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def cached_snapshot(model_id: str, filename: str = "config.json") -> str | None:
    """The local snapshot folder of hub id `model_id` when `filename` is in the cache; else None.

    Reads only the disk: never the network, whatever ``HF_HUB_OFFLINE`` says.
    """
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, filename)
    except Exception:  # not a valid repo id, no cache folder, huggingface_hub missing, ...
        return None
    if not isinstance(found, str):
        return None
    parts = Path(found).parts
    # .../snapshots/<rev>/<filename, possibly with subfolders>
    depth = len(Path(filename).parts)
    return str(Path(*parts[: len(parts) - depth]))


def resolve_local(model: str, filename: str = "config.json") -> str | None:
    """A local folder to load `model` from without the network: a path as it is, a cached hub id as its
    snapshot folder; None when it is neither (then only the hub can provide it)."""
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser())
    return cached_snapshot(model, filename)


def hub_reachable(timeout: float = 5.0) -> tuple[bool, str]:
    """(can the hub be reached, its host name): one TCP connection, no retries; False when offline mode is set."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    if _offline_env():
        return False, host
    try:
        socket.create_connection(
            (host, url.port or (443 if url.scheme == "https" else 80)), timeout=timeout
        ).close()
    except OSError:
        return False, host
    return True, host


def require_hub(model: str) -> None:
    """Fail in one line, at once, when `model` (not local, not cached) cannot come from the hub either."""
    hint = (
        f"run `{INSTALL_HINT.format(model=model)}` (add --from PATH with a copied GGUF file or model "
        "directory when the hub cannot be reached), or pass a local directory / GGUF file as --model"
    )
    what = f"model {model!r} is not in the local Hugging Face cache and"
    if _offline_env():
        raise BackendError(f"{what} HF_HUB_OFFLINE is set: {hint}")
    ok, host = hub_reachable()
    if not ok:
        raise BackendError(f"{what} {host} cannot be reached: connect to the internet, {hint}")


T = TypeVar("T")


class LoadedModels:
    """Models loaded in this process, by key, each loaded once for the life of the process.

    One lock for all keys: a second caller waits while a model loads (loading two at once would only
    compete for the same memory and cores).
    """

    def __init__(self) -> None:
        self._loaded: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The model loaded under `key`; `load()` makes it the first time (its error leaves nothing cached)."""
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load()
            return self._loaded[key]

    def clear(self) -> None:
        """Forget every loaded model (its memory is freed once nothing else holds it)."""
        with self._lock:
            self._loaded.clear()


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def install_model(
    model_id: str | None = None,
    source: str | os.PathLike | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Put `model_id` (default: the default model) into the local hub cache; return its snapshot folder.

    Without `source` it is downloaded from the hub (an error at once when the hub cannot be reached).
    With `source` (a model directory with config.json and weights, a copied cache folder
    ``models--ORG--NAME``, or a ``.gguf`` file) it is copied in under `model_id`, replacing what the
    cache's ``main`` pointed to before (the old snapshot stays on disk). A model already cached is
    left alone unless `force` or a `source` is given.
    """
    say = progress or (lambda _msg: None)
    model_id = model_id or DEFAULT_MODEL
    if model_id.count("/") != 1 or any(not part or part in (".", "..") for part in model_id.split("/")):
        raise BackendError(f"model id {model_id!r} must look like ORG/NAME (as on the Hugging Face hub)")
    if source is None:
        return _from_hub(model_id, force, say)
    src = Path(source).expanduser()
    if not src.exists():
        raise BackendError(f"--from {str(source)!r} does not exist")
    if src.is_file():
        if src.suffix.lower() != ".gguf":
            raise BackendError(
                f"--from {str(source)!r} is a file but not a .gguf file: give a GGUF file or a model directory"
            )
        return _from_gguf(model_id, src, say)
    if (src / "adapter_config.json").is_file():
        raise BackendError(
            f"{str(source)!r} is a LoRA adapter, not a model: use it directly as --model {source} "
            "(its base model must be installed)"
        )
    model_dir = _model_dir(src)
    if model_dir is None:
        ggufs = sorted(src.glob("*.gguf"))
        if len(ggufs) == 1:
            return _from_gguf(model_id, ggufs[0], say)
        raise BackendError(
            f"{str(source)!r} holds no model: expected config.json with weights (*.safetensors), "
            "a copied cache folder models--ORG--NAME, or one .gguf file"
        )
    return _copy_into_cache(model_id, model_dir, say)


def _from_hub(model_id: str, force: bool, say: Callable[[str], None]) -> Path:
    have = cached_snapshot(model_id)
    if have and _has_weights(Path(have)) and not force:
        say(f"{model_id} is already in the cache: {have}")
        return Path(have)
    ok, host = hub_reachable()
    if not ok:
        why = "HF_HUB_OFFLINE is set" if _offline_env() else f"{host} cannot be reached"
        raise BackendError(
            f"cannot download {model_id}: {why}. Copy the model over (a GGUF file or a model directory) "
            f"and run: afterburner models install {model_id} --from PATH"
        )
    from huggingface_hub import snapshot_download

    say(f"downloading {model_id} from {host} into {hub_cache_dir()} ...")
    try:
        path = snapshot_download(model_id, force_download=force)
    except Exception as e:  # repository not found, gated, network dropped, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise BackendError(f"cannot download {model_id}: {first}") from None
    say(f"installed {model_id} at {path}")
    return Path(path)


def _model_dir(src: Path) -> Path | None:
    """The folder holding config.json and weights: `src` itself, or the snapshot of a copied cache folder."""
    if (src / "config.json").is_file() and _has_weights(src):
        return src
    snapshots = src / "snapshots"
    if snapshots.is_dir():
        ref = src / "refs" / "main"
        revs = [ref.read_text().strip()] if ref.is_file() else sorted(p.name for p in snapshots.iterdir())
        for rev in reversed(revs):
            snap = snapshots / rev
            if (snap / "config.json").is_file() and _has_weights(snap):
                return snap
    return None


def _has_weights(folder: Path) -> bool:
    return any(p.suffix in _WEIGHT_SUFFIXES and p.is_file() for p in folder.iterdir())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _copy_into_cache(model_id: str, model_dir: Path, say: Callable[[str], None]) -> Path:
    """Lay out the files of `model_dir` as the hub cache does, under `model_id`; return the snapshot."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    names = {p.relative_to(model_dir).as_posix() for p in files}
    if not any(n in names for n in _TOKENIZER_FILES):
        raise BackendError(
            f"{str(model_dir)!r} has weights but no tokenizer (tokenizer.json / tokenizer_config.json): "
            "copy the whole model folder"
        )
    repo = hub_cache_dir() / ("models--" + model_id.replace("/", "--"))
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    size = sum(p.stat().st_size for p in files)
    say(f"copying {len(files)} files ({size / 1e6:.1f} MB) from {model_dir} into {repo} ...")
    digests: dict[str, str] = {}
    for p in files:
        rel = p.relative_to(model_dir).as_posix()
        digest = _sha256(p)
        digests[rel] = digest
        blob = blobs / digest
        if not blob.exists():
            fd, tmp = tempfile.mkstemp(dir=blobs, prefix=".incomplete-")
            os.close(fd)
            shutil.copyfile(p, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, blob)
    # A revision name of the hub's shape (40 hex digits), from the content: the same copy twice is one snapshot.
    rev = hashlib.sha1(json.dumps(digests, sort_keys=True).encode()).hexdigest()
    snapshot = repo / "snapshots" / rev
    if not (snapshot.is_dir() and all((snapshot / rel).is_file() for rel in digests)):
        staging = Path(tempfile.mkdtemp(dir=repo, prefix=".snapshot-"))
        for rel, digest in digests.items():
            link = staging / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            target = os.path.relpath(blobs / digest, snapshot / Path(rel).parent)
            try:
                os.symlink(target, link)
            except OSError:  # no symlinks here (Windows without developer mode): a copy, as the hub does
                shutil.copyfile(blobs / digest, link)
        os.chmod(staging, 0o755)
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        if snapshot.exists():
            shutil.rmtree(snapshot)
        os.replace(staging, snapshot)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(rev)
    if cached_snapshot(model_id) != str(snapshot):
        raise BackendError(f"installed {model_id} into {repo}, but the cache does not find it there")
    say(f"installed {model_id} at {snapshot}")
    return snapshot


def _from_gguf(model_id: str, gguf: Path, say: Callable[[str], None]) -> Path:
    """Convert a GGUF file to a dense safetensors checkpoint with its tokenizer, then copy that in."""
    try:
        import gguf as _gguf  # noqa: F401  (transformers reads GGUF files through it)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    except ImportError as e:
        raise BackendError(
            f"converting a GGUF file needs torch, transformers and gguf ({e.name} is missing): "
            'pip install -e ".[llm]"'
        ) from None
    say(f"converting {gguf.name} to a bfloat16 safetensors checkpoint (a minute or two for a 0.5B model) ...")
    folder, name = str(gguf.parent), gguf.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(
            folder,
            gguf_file=name,
            dtype=torch.bfloat16,
            quantization_config=GgufConfig(dequantize=True),  # dense weights: what save_pretrained can write
        )
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise BackendError(f"cannot read GGUF file {str(gguf)!r}: {first}") from None
    model.hf_quantizer = None  # the weights are dense now; let save_pretrained write them
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = model_id
    with tempfile.TemporaryDirectory(prefix="afterburner-gguf-") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        del model
        return _copy_into_cache(model_id, Path(tmp), say)
