"""``jeugdhub k8s-check``: render every kustomization and validate it against pinned real schemas."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "k8s-check",
        help="validate deploy/k8s (every overlay, kustomize-rendered) with kubeconform against pinned "
        "Kubernetes, Strimzi and prometheus-operator schemas (fetched once into deploy/local/cache)",
    )
    parser.add_argument(
        "--fetch-only", action="store_true", help="fetch and build the tools and schemas, validate nothing"
    )
    parser.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from hubdev.k8scheck.check import check_all
    from hubdev.k8scheck.fetch import FetchError, ensure_all

    try:
        fetched = ensure_all()
    except FetchError as exc:
        print(f"k8s-check: {exc}", file=sys.stderr)
        return 2
    if args.fetch_only:
        return 0
    failed = 0
    for report in check_all(fetched):
        verdict = "ok" if report.ok else "INVALID"
        print(f"{verdict:8} {report.target}: {report.valid}/{report.resources} resources valid")
        for problem in report.problems:
            print(f"           {problem}")
        failed += not report.ok
    return 1 if failed else 0
