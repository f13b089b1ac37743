"""Render every kustomization of deploy/k8s and validate each resource against pinned real schemas.

kubeconform runs in strict mode (unknown fields and duplicate keys refused) with no
``-ignore-missing-schemas``: a resource whose kind has no schema fails the check, so a new kind
cannot slip through unvalidated. Core kinds use Kubernetes :data:`~hubdev.k8scheck.fetch.
KUBERNETES_VERSION`'s schemas, custom resources the JSON schemas made from the real CRDs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubdev.k8scheck.fetch import KUBERNETES_VERSION, REPO_ROOT, Fetched

K8S = REPO_ROOT / "deploy" / "k8s"


@dataclass(frozen=True)
class Target:
    """Something kustomize renders: a kustomization directory (or a synthetic one)."""

    name: str
    directory: Path


@dataclass
class Report:
    """kubeconform's verdict on one rendered target."""

    target: str
    resources: int = 0
    valid: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.valid == self.resources


def targets(k8s: Path = K8S) -> list[Target]:
    """The base, every overlay, and the base with every component (so opt-in ones are checked too)."""
    found = [Target("base", k8s / "base")]
    found += [
        Target(f"overlays/{path.parent.name}", path.parent)
        for path in sorted((k8s / "overlays").glob("*/kustomization.yaml"))
    ]
    return found


def all_components_kustomization(k8s: Path, into: Path) -> Target:
    """A kustomization in *into* of the base plus every component (none of the overlays has all)."""
    components = sorted(path.parent for path in (k8s / "components").glob("*/kustomization.yaml"))

    def relative(path: Path) -> str:  # kustomize refuses absolute paths to other kustomizations
        return os.path.relpath(path, into)

    text = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {relative(k8s / 'base')}\ncomponents:\n"
        + "".join(f"  - {relative(path)}\n" for path in components)
    )
    into.mkdir(parents=True, exist_ok=True)
    (into / "kustomization.yaml").write_text(text, encoding="utf-8")
    return Target("base+components/" + ",".join(path.name for path in components), into)


def render(kustomize: Path, directory: Path) -> str:
    """``kustomize build DIR`` (the pinned kustomize; offline)."""
    result = subprocess.run(
        [str(kustomize), "build", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {directory} failed:\n{result.stderr}")
    return result.stdout


def kubeconform_command(fetched: Fetched) -> list[str]:
    command = [
        str(fetched.kubeconform),
        "-strict",
        "-output",
        "json",
        "-verbose",
        "-kubernetes-version",
        KUBERNETES_VERSION,
        "-schema-location",
        str(fetched.kubernetes_schemas),
    ]
    for crd_dir in fetched.crd_schema_dirs:
        command += [
            "-schema-location",
            f"{crd_dir}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
        ]
    return command


def validate_yaml(fetched: Fetched, text: str, name: str) -> Report:
    """Validate a multi-document YAML stream; every resource must be found valid."""
    return validate_many(fetched, {name: text})[name]


def validate_many(fetched: Fetched, streams: Mapping[str, str]) -> dict[str, Report]:
    """Validate several YAML streams in one kubeconform run (each schema is compiled once)."""
    import yaml

    reports = {
        name: Report(name, resources=sum(doc is not None for doc in yaml.safe_load_all(text)))
        for name, text in streams.items()
    }
    with tempfile.TemporaryDirectory(prefix="k8scheck-") as tmp:
        files: dict[str, str] = {}
        for index, (name, text) in enumerate(streams.items()):
            path = Path(tmp) / f"{index}.yaml"
            path.write_text(text, encoding="utf-8")
            files[str(path)] = name
        result = subprocess.run(
            [*kubeconform_command(fetched), *files],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError:
        for report in reports.values():
            report.problems.append(f"kubeconform exited {result.returncode}: {result.stdout}{result.stderr}")
        return reports
    for resource in output.get("resources", []):
        report = reports[files[resource["filename"]]]
        label = f"{resource.get('kind')}/{resource.get('name')} ({resource.get('version')})"
        status = resource.get("status")
        if status == "statusValid":
            report.valid += 1
            continue
        errors = resource.get("validationErrors") or []
        details = [f"{error.get('path')}: {error.get('msg')}" for error in errors]
        # For schemas with $refs the errors list says only "/spec: validation failed"; the message
        # names the field ("... - at '/spec/...': additional properties 'x' not allowed").
        message = str(resource.get("msg") or "")
        located = re.findall(r" - (at '[^']*': .*?)(?= - at '|$)", message, flags=re.S)
        details += [line for line in located if line not in details] or ([] if details else [message])
        report.problems.append(f"{label}: {status}: " + "; ".join(details))
    for report in reports.values():
        if report.valid != report.resources and not report.problems:
            report.problems.append(f"kubeconform judged {report.valid} of {report.resources} resources valid")
    return reports


def validate_documents(fetched: Fetched, documents: Sequence[Mapping[str, Any]], name: str) -> Report:
    """Validate resources given as Python objects (the tests' negative controls)."""
    import yaml

    return validate_yaml(fetched, yaml.safe_dump_all([dict(doc) for doc in documents], sort_keys=False), name)


def check_all(fetched: Fetched, k8s: Path = K8S) -> list[Report]:
    """Render and validate every target; one report each."""
    with tempfile.TemporaryDirectory(prefix="k8scheck-components-") as tmp:
        streams = {
            target.name: render(fetched.kustomize, target.directory)
            for target in [*targets(k8s), all_components_kustomization(k8s, Path(tmp))]
        }
    return list(validate_many(fetched, streams).values())
