"""``afterburner models install [MODEL] [--from PATH]``: put a model into the local Hugging Face cache.

afterburner models install                                   # the default model, from the hub
afterburner models install Qwen/Qwen2.5-Coder-0.5B-Instruct --from qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
afterburner models install my-org/my-model --from path/to/model_dir     # config.json, weights, tokenizer

Afterwards ``--model MODEL`` loads it from the cache without the network.
"""

from __future__ import annotations

import argparse

from afterburner.llm.base import DEFAULT_MODEL


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="put a model into the local Hugging Face cache (from the hub or a copied file)"
    )
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    i = sub.add_parser(
        "install",
        help="download a model from the hub, or install a copied GGUF file / model directory offline",
        description=(
            "Put MODEL into the local Hugging Face cache ($HF_HOME/hub), so that --model MODEL loads it "
            "offline. Without --from it is downloaded from the hub; on a machine without hub access, copy "
            "the model over and give --from PATH."
        ),
    )
    i.add_argument(
        "model",
        nargs="?",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help=f"the hub id to install it under, ORG/NAME (default: {DEFAULT_MODEL})",
    )
    i.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        default=None,
        help="install from a local copy instead of the hub: a .gguf file (converted once to safetensors), "
        "a model directory (config.json, weights, tokenizer) or a copied cache folder models--ORG--NAME "
        "(default: download from the hub)",
    )
    i.add_argument(
        "--force",
        action="store_true",
        help="download again even when MODEL is already in the cache (default: keep what is there)",
    )
    i.set_defaults(func=_install)


def _install(args: argparse.Namespace) -> int:
    from afterburner.llm.models import install_model

    snapshot = install_model(args.model, args.source, force=args.force, progress=print)
    print(f"use it with: --model {args.model}   (loads from {snapshot.parent.parent}, no network needed)")
    return 0
