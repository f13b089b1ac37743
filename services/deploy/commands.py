"""``jeugdhub deploy render``: write (or ``--check``) the generated Kubernetes resources."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    deploy = sub.add_parser("deploy", help="deployment artefacts generated from the code's declarations")
    actions = deploy.add_subparsers(dest="deploy_action", required=True)
    render = actions.add_parser(
        "render",
        help="write KafkaTopic/KafkaUser/PrometheusRule YAML from topics.py and deploy/prometheus/rules.yml",
    )
    render.add_argument("--root", default=".", help="repository root (default: the current directory)")
    render.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    render.add_argument(
        "--prefix", default="", help="topic name prefix (JEUGDHUB_TOPIC_PREFIX of the target)"
    )
    render.add_argument("--cluster", help="Strimzi Kafka cluster name (label strimzi.io/cluster)")
    render.add_argument("--replicas", type=int, help="replication factor of every topic")
    render.add_argument(
        "--output-dir",
        help="write the files here (flat) instead of their places in the repository; "
        "required with --prefix/--cluster/--replicas so the committed defaults stay as they are",
    )
    render.set_defaults(func=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    from services.deploy.manifests import DEFAULT_CLUSTER, DEFAULT_REPLICAS, render_all

    customised = bool(args.prefix) or args.cluster is not None or args.replicas is not None
    if customised and not args.output_dir:
        print("jeugdhub deploy render: --prefix/--cluster/--replicas need --output-dir", file=sys.stderr)
        return 2
    if args.replicas is not None and args.replicas < 1:
        print("jeugdhub deploy render: --replicas must be >= 1", file=sys.stderr)
        return 2
    root = Path(args.root)
    try:
        files = render_all(
            root, args.prefix, args.cluster or DEFAULT_CLUSTER, args.replicas or DEFAULT_REPLICAS
        )
    except (OSError, ValueError) as exc:
        print(f"jeugdhub deploy render: {exc}", file=sys.stderr)
        return 2
    stale = []
    for relative, text in files.items():
        target = Path(args.output_dir) / relative.name if args.output_dir else root / relative
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(target)
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if args.check:
        for target in stale:
            print(f"out of date: {target} (run `jeugdhub deploy render`)", file=sys.stderr)
        return 1 if stale else 0
    for target in stale:
        print(f"wrote {target}")
    return 0
