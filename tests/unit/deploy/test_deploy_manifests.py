"""The Kubernetes manifests: they parse, render with kustomize, and say what the services need.

Checked on the hand-written files and on ``kustomize build`` of the base and every overlay (the
pinned kustomize of hubdev/k8scheck, offline once built). No cluster here; the schema validation is
test_deploy_schemas.py (deploy/k8s/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.contracts.regions import DEFAULT_REGIONS_FILE, load_region_table
from tests.unit.deploy.deploy_support import (
    K8S,
    KUSTOMIZATIONS,
    REPO,
    SETTINGS_BY_COMMAND,
    Doc,
    claimed_volumes,
    command_of,
    container_env,
    containers,
    env_file,
    env_names,
    hand_written_resources,
    load_documents,
    of_kind,
    rendered,
    workloads,
    yaml_files,
)

WEB_PORTS = {"ingest": 8080, "validate": 6066, "aggregate": 6067}
"""The documented default port of each service (docs/architecture.md)."""
PORT_ENV = {
    "ingest": "JEUGDHUB_INGEST_PORT",
    "validate": "JEUGDHUB_WEB_PORT",
    "aggregate": "JEUGDHUB_WEB_PORT",
}
BIND_ENV = {
    "ingest": "JEUGDHUB_INGEST_HOST",
    "validate": "JEUGDHUB_WEB_BIND",
    "aggregate": "JEUGDHUB_WEB_BIND",
}
SECRETS = {"jeugdhub-keyring": "validate", "jeugdhub-ingest-tokens": "ingest"}


def _deployments() -> list[Doc]:
    return workloads([doc for _, doc in hand_written_resources()])


def _by_command() -> dict[str, Doc]:
    out = {}
    for deployment in _deployments():
        (container,) = containers(deployment)
        out[command_of(container)] = deployment
    return out


def _port_number(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_document_parses(path: Path) -> None:
    documents = load_documents(path)
    assert documents, f"{path} holds no YAML document"
    for doc in documents:
        assert isinstance(doc, dict)


def test_every_resource_file_is_listed_in_a_kustomization() -> None:
    listed: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        (doc,) = load_documents(kustomization)
        for entry in doc.get("resources", []):
            target = (kustomization.parent / entry).resolve()
            if target.suffix in (".yaml", ".yml"):
                listed.add(target)
    for path, _ in hand_written_resources():
        assert path.resolve() in listed, f"{path.relative_to(REPO)} is in no kustomization's resources"


def test_one_deployment_per_service_running_jeugdhub_command() -> None:
    assert sorted(_by_command()) == ["aggregate", "ingest", "validate"]


@pytest.mark.parametrize("command", sorted(WEB_PORTS))
def test_probes_ports_and_settings_agree(command: str) -> None:
    deployment = _by_command()[command]
    (container,) = containers(deployment)
    env = container_env(container)
    port = WEB_PORTS[command]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert env[PORT_ENV[command]] == str(port)
    assert env[BIND_ENV[command]] == "0.0.0.0", "the default bind 127.0.0.1 is unreachable for probes"
    probes = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in probes.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, (command, probe)
        assert _port_number(container, get["port"]) == port, (command, probe)


@pytest.mark.parametrize("command", sorted(WEB_PORTS))
def test_resources_and_security_context(command: str) -> None:
    deployment = _by_command()[command]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = containers(deployment)
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}, (command, kind)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a read-only root needs a writable /tmp"
    if command in ("validate", "aggregate"):  # faust writes "<app id>-data" into the working dir
        assert "emptyDir" in volumes[mounts[container["workingDir"]]]
    if command in ("validate", "aggregate"):  # its table's RocksDB databases: on the pod's own volume
        data_dir = container_env(container)["JEUGDHUB_DATA_DIR"]
        (volume,) = [m["name"] for m in container["volumeMounts"] if data_dir.startswith(m["mountPath"] + "/")
                     and m["mountPath"] != container["workingDir"]]  # fmt: skip
        assert volume in claimed_volumes(deployment), "a restart must find the store it left"


def test_the_image_runs_as_the_pods_user_in_the_pods_working_directory() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    workdirs = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("WORKDIR ")]
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users == ["10001:10001"], "numeric, so runAsNonRoot can verify it"
    for command, deployment in _by_command().items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 10001
        (container,) = containers(deployment)
        if "workingDir" in container:
            assert container["workingDir"] == workdirs[-1], command


@pytest.mark.parametrize("command", sorted(WEB_PORTS))
def test_every_env_var_is_a_field_of_the_services_settings(command: str) -> None:
    deployment = _by_command()[command]
    (container,) = containers(deployment)
    known = env_names(SETTINGS_BY_COMMAND[command])
    for name in container_env(container):
        assert name in known, f"{command}: {name} is no field of {SETTINGS_BY_COMMAND[command].__name__}"
    refs = [e["configMapRef"]["name"] for e in container.get("envFrom", [])]
    assert refs == ["jeugdhub-config"]
    for name in env_file(K8S / "base" / "hub.env"):
        assert name in known, f"hub.env: {name} is no field of {SETTINGS_BY_COMMAND[command].__name__}"


def test_overlay_config_literals_are_settings_of_every_service() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        (doc,) = load_documents(kustomization)
        for generator in doc.get("configMapGenerator", []):
            if generator["name"] != "jeugdhub-config":
                continue
            names = [lit.partition("=")[0] for lit in generator.get("literals", [])]
            names += [n for env in generator.get("envs", []) for n in env_file(kustomization.parent / env)]
            for name in names:
                for command, settings in SETTINGS_BY_COMMAND.items():
                    assert name in env_names(settings), f"{kustomization}: {name} unknown to {command}"


def test_secrets_are_mounted_as_directories_where_the_settings_point() -> None:
    for command, deployment in _by_command().items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = containers(deployment)
        env = container_env(container)
        secret_volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert sorted(secret_volumes.values()) == sorted(s for s, c in SECRETS.items() if c == command)
        for mount in container["volumeMounts"]:
            if mount["name"] not in secret_volumes:
                continue
            assert mount["readOnly"] is True
            assert "subPath" not in mount, "a subPath mount never sees a rotated Secret"
            variable = {"validate": "JEUGDHUB_KEYRING_FILE", "ingest": "JEUGDHUB_INGEST_TOKENS_FILE"}[command]
            assert Path(env[variable]).parent == Path(mount["mountPath"])


def test_workers_mount_the_region_table_where_the_config_points() -> None:
    regions_file = Path(env_file(K8S / "base" / "hub.env")["JEUGDHUB_REGIONS_FILE"])
    for command in ("validate", "aggregate"):
        (container,) = containers(_by_command()[command])
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert Path(mounts["regions"]) == regions_file.parent


def test_the_base_region_table_is_the_shipped_example_and_loads() -> None:
    base_table = K8S / "base" / "regions" / "regions.csv"
    assert base_table.read_bytes() == DEFAULT_REGIONS_FILE.read_bytes()
    assert load_region_table(base_table).region_codes


def test_services_target_the_named_container_ports() -> None:
    docs = [doc for _, doc in hand_written_resources()]
    deployments = {d["metadata"]["name"]: d for d in workloads(docs)}
    services = of_kind(docs, "Service")
    assert sorted(s["metadata"]["name"] for s in services) == sorted(deployments)
    for service in services:
        deployment = deployments[service["metadata"]["name"]]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        (container,) = containers(deployment)
        names = {p["name"]: p["containerPort"] for p in container["ports"]}
        for port in service["spec"]["ports"]:
            assert names[port["targetPort"]] == port["port"]


def test_service_monitors_scrape_metrics_of_every_service() -> None:
    docs = [doc for _, doc in hand_written_resources()]
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    monitors = of_kind(docs, "ServiceMonitor")
    assert sorted(m["metadata"]["name"] for m in monitors) == sorted(services)
    for monitor in monitors:
        service = services[monitor["metadata"]["name"]]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


# --- rendered with kustomize -----------------------------------------------------------------


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_kustomize_renders_and_references_resolve(directory: Path) -> None:
    docs = rendered(directory)
    config_maps = {d["metadata"]["name"] for d in of_kind(docs, "ConfigMap")}
    deployments = workloads(docs)
    assert len(deployments) == 3
    assert len(of_kind(docs, "KafkaTopic")) >= 6
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in {d["metadata"]["name"] for d in of_kind(docs, "ServiceAccount")}
        for volume in pod["volumes"]:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
            if "secret" in volume:
                assert volume["secret"]["secretName"] in SECRETS, "secrets are created by hand (README)"
        (container,) = containers(deployment)
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] in config_maps
        # kustomize's labels transformer reaches the pods, so the default-deny policy selects them
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "jeugdhub"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_every_pod_is_behind_the_default_deny_policy(directory: Path) -> None:
    docs = rendered(directory)
    (deny,) = [p for p in of_kind(docs, "NetworkPolicy") if "ingress" not in p["spec"]]
    selector = deny["spec"]["podSelector"]["matchLabels"]
    for deployment in workloads(docs):
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_local_overlay_fits_one_broker() -> None:
    docs = rendered(K8S / "overlays" / "local")
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"jeugdhub"}
    for topic in of_kind(docs, "KafkaTopic"):
        assert topic["spec"]["replicas"] == 1
        assert topic["spec"]["config"]["min.insync.replicas"] == "1"
    images = {c["image"] for d in workloads(docs) for c in containers(d)}
    assert images == {"jeugdhub:dev"}
    # One pod per worker and at first one of ingest: the budgets allow one eviction, so drains pass.
    assert {b["spec"]["maxUnavailable"] for b in of_kind(docs, "PodDisruptionBudget")} == {1}
    (autoscaler,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert (autoscaler["spec"]["minReplicas"], autoscaler["spec"]["maxReplicas"]) == (1, 2)
    assert config_value(docs, "JEUGDHUB_REPLICATION_FACTOR") == "1"
    (cluster,) = of_kind(docs, "Kafka")
    assert (
        config_value(docs, "JEUGDHUB_KAFKA_BOOTSTRAP")
        == f"{cluster['metadata']['name']}-kafka-bootstrap:9092"
    )


def config_value(docs: list[Doc], name: str) -> str:
    (config,) = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("jeugdhub-config")]
    return str(config["data"][name])


def test_production_overlay_points_at_its_own_kafka() -> None:
    docs = rendered(K8S / "overlays" / "production")
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"jeugdhub"}
    (cluster,) = of_kind(docs, "Kafka")
    assert (
        config_value(docs, "JEUGDHUB_KAFKA_BOOTSTRAP")
        == f"{cluster['metadata']['name']}-kafka-bootstrap:9092"
    )
    assert {t["metadata"]["labels"]["strimzi.io/cluster"] for t in of_kind(docs, "KafkaTopic")} == {
        cluster["metadata"]["name"]
    }


def test_rendered_output_is_plain_yaml_kubectl_could_apply() -> None:
    for directory in KUSTOMIZATIONS:
        for doc in rendered(directory):
            assert {"apiVersion", "kind", "metadata"} <= doc.keys()
            yaml.safe_dump(doc)  # round-trips: no Python-specific tags


def test_dockerfile_builds_from_what_dockerignore_admits() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    admitted = [
        line[1:].strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    ]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    copies = [line.split()[1:] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert copies
    destinations = {}
    for parts in copies:
        if parts[0].startswith("--from"):
            continue
        *sources, destination = parts
        for source in sources:
            assert (REPO / source).exists(), source
            assert any(source.rstrip("/") == a or source.startswith(f"{a}/") for a in admitted), source
            destinations[source.rstrip("/")] = destination
    env = dict(
        line.removeprefix("ENV ").split("=", 1)
        for line in dockerfile.splitlines()
        if line.startswith("ENV JEUGDHUB_")
    )
    assert env["JEUGDHUB_SCHEMA_DIR"] == destinations["schemas/avro"]
    assert "JEUGDHUB_SCHEMA_DIR" in (REPO / "services" / "contracts" / "schemas.py").read_text()
