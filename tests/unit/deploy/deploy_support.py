"""Shared helpers for the deployment tests: the repository's YAML, kustomize renders, settings env names."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from services.aggregate.settings import AggregateSettings
from services.ingest.settings import IngestSettings
from services.validate.settings import ValidateSettings

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
OVERLAYS = tuple(sorted(path.parent for path in (K8S / "overlays").glob("*/kustomization.yaml")))
"""Every overlay under deploy/k8s/overlays (local, production, and any added later)."""
KUSTOMIZATIONS = (K8S / "base", *OVERLAYS)

SETTINGS_BY_COMMAND: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "validate": ValidateSettings,
    "aggregate": AggregateSettings,
}
"""``jeugdhub <command>`` run by a Deployment -> the settings class that command reads."""

Doc = dict[str, Any]


def yaml_files() -> list[Path]:
    """Every YAML file under deploy/ that is ours (the Maven cache under deploy/local is not)."""
    files = [*K8S.rglob("*.yaml"), *K8S.rglob("*.yml"), *PROMETHEUS_DIR.rglob("*.yml")]
    return sorted(files)


def load_documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def hand_written_resources() -> list[tuple[Path, Doc]]:
    """Kubernetes objects of deploy/k8s (not kustomization files), with the file they are in."""
    out: list[tuple[Path, Doc]] = []
    for path in yaml_files():
        if path.is_relative_to(PROMETHEUS_DIR) or path.name == "kustomization.yaml":
            continue
        out.extend((path, doc) for doc in load_documents(path))
    return out


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc.get("kind") == kind]


WORKLOAD_KINDS = ("Deployment", "StatefulSet")
"""What runs the hub's pods: Deployments, and a StatefulSet where a pod keeps state on its own volume
(the aggregate's RocksDB table, docs/performance.md "Restarts")."""


def workloads(docs: list[Doc]) -> list[Doc]:
    """Every Deployment and StatefulSet (their pod templates are checked alike)."""
    return [doc for doc in docs if doc.get("kind") in WORKLOAD_KINDS]


def claimed_volumes(workload: Doc) -> set[str]:
    """Names of a StatefulSet's per-pod persistent volumes (none for a Deployment)."""
    return {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}


def kustomize() -> str:
    """The pinned kustomize (hubdev/k8scheck; built once into deploy/local/cache), never a skip."""
    from hubdev.k8scheck.fetch import KUSTOMIZE, FetchError, ensure_go_tool

    try:
        return str(ensure_go_tool(KUSTOMIZE))
    except FetchError as exc:
        pytest.fail(f"kustomize {KUSTOMIZE.version} could not be built: {exc}")


@cache
def _render(directory: Path) -> str:
    result = subprocess.run(
        [kustomize(), "build", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kustomize build {directory} failed:\n{result.stderr}"
    return result.stdout


def rendered(directory: Path) -> list[Doc]:
    """``kustomize build DIR`` (the pinned kustomize) as parsed documents."""
    return [doc for doc in yaml.safe_load_all(_render(directory)) if doc is not None]


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads: its env prefix + each field name."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


def env_file(path: Path) -> dict[str, str]:
    """A kustomize ``envs:`` file: KEY=VALUE lines, ``#`` comments."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: not KEY=VALUE: {line!r}"
            out[key.strip()] = value
    return out


def containers(deployment: Doc) -> Iterator[Doc]:
    yield from deployment["spec"]["template"]["spec"]["containers"]


def command_of(container: Doc) -> str:
    """The jeugdhub subcommand a container runs (``command: [jeugdhub]``, ``args: [<command>]``)."""
    assert container.get("command") == ["jeugdhub"], container.get("command")
    args = container.get("args") or []
    assert len(args) == 1, args
    return str(args[0])


def container_env(container: Doc) -> dict[str, str]:
    return {item["name"]: str(item.get("value", "")) for item in container.get("env") or []}
