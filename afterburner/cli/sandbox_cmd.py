"""``afterburner sandbox build-image``: build the image of the docker sandbox (``--sandbox docker``).

The image is built once on this machine (a minimal Debian made with debootstrap, then the project's
Dockerfile; nothing is pulled from a registry) and found again by its tag afterwards.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sandbox",
        help="set up a sandbox backend (build-image: the image of --sandbox docker)",
        description="Set up a sandbox backend.",
    )
    sub = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    b = sub.add_parser(
        "build-image",
        help="build the docker sandbox image (needs dockerd, debootstrap and root; a few minutes, once)",
        description="Build the image --sandbox docker runs in: a minimal Debian root filesystem made with "
        "debootstrap, imported into docker, then afterburner/sandbox/docker/Dockerfile. Nothing is "
        "pulled from a registry. Does nothing when the image is already built (unless --force).",
    )
    b.add_argument(
        "--force",
        action="store_true",
        help="build the image again even if it exists (the debootstrap base is reused)",
    )
    b.set_defaults(func=build_image)


def build_image(args: argparse.Namespace) -> int:
    from afterburner.sandbox.docker_backend import build_image as build

    print(build(force=args.force))
    return 0
