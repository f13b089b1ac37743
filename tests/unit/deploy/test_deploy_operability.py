"""What an operator expects of every rendered overlay (base, local, production, any added later).

Each test runs on ``kustomize build`` of every kustomization, so a patch in an overlay cannot take
away what the base promises: limits, probes, the restricted security context, a writable ``/tmp``
and faust data directory on a read-only root, a PodDisruptionBudget per Deployment that never blocks
a drain, the ingest autoscaler, worker replicas within the partitions they share, a termination
grace period that fits the shutdown, and Kafka topics that one broker down cannot stop.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from services.contracts.topics import RAW, VALIDATED, TopicSpec
from services.ingest.settings import IngestSettings
from services.settings import WorkerSettings
from tests.unit.deploy.deploy_support import (
    K8S,
    KUSTOMIZATIONS,
    REPO,
    Doc,
    claimed_volumes,
    command_of,
    container_env,
    containers,
    of_kind,
    rendered,
    workloads,
)

PROBES = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
WORKER_SOURCES: dict[str, TopicSpec] = {"validate": RAW, "aggregate": VALIDATED}
"""The topic whose partitions a worker's consumer group divides among its pods (its faust agent's
source; aggregate's figures stage reads youth-facts in full in every pod, outside the group)."""
AIOHTTP_SHUTDOWN_S = 10.0
"""services/ingest/server.py make_runner: in-flight requests get this long after SIGTERM."""


def _name(directory: Path) -> str:
    return str(directory.relative_to(K8S))


def _deployments(directory: Path) -> dict[str, Doc]:
    """jeugdhub subcommand -> its rendered Deployment."""
    out = {}
    for deployment in workloads(rendered(directory)):
        (container,) = containers(deployment)
        out[command_of(container)] = deployment
    return out


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, "only matchLabels selectors are used here"
    return bool(selector["matchLabels"].items() <= labels.items())


def _dockerfile_user() -> int:
    (user,) = [
        line.split()[1] for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("USER ")
    ]
    uid, _, gid = user.partition(":")
    assert uid == gid
    return int(uid)


def _env_or_default(container: Doc, name: str, default: object) -> str:
    return container_env(container).get(name, str(default))


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity as a number (cpu in cores, memory in bytes): enough for comparisons."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    assert match, text
    number, unit = match.groups()
    return float(number) * (units[unit] if unit else 1.0)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_every_container_has_requests_and_limits(directory: Path) -> None:
    for command, deployment in _deployments(directory).items():
        pod = deployment["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert set(resources.get(kind, {})) == {"cpu", "memory"}, (command, kind)
            for name in ("cpu", "memory"):
                assert _quantity(resources["limits"][name]) >= _quantity(resources["requests"][name]), (
                    command,
                    name,
                )


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_every_container_has_probes_on_its_own_port(directory: Path) -> None:
    for command, deployment in _deployments(directory).items():
        (container,) = containers(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in PROBES.items():
            get = container[probe]["httpGet"]
            assert get["path"] == path, (command, probe)
            assert get["port"] in ports, (command, probe, "a named port of the container")


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_every_pod_runs_restricted_as_the_images_user(directory: Path) -> None:
    uid = _dockerfile_user()
    for command, deployment in _deployments(directory).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, command
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, command
        assert (security["runAsUser"], security["runAsGroup"]) == (uid, uid), command
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, command
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, command
            assert context["readOnlyRootFilesystem"] is True, command
            assert context["capabilities"] == {"drop": ["ALL"]}, command
            assert not context.get("privileged", False), command
    for account in of_kind(rendered(directory), "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_the_paths_the_services_write_are_empty_dirs(directory: Path) -> None:
    for command, deployment in _deployments(directory).items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = containers(deployment)
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v} | claimed_volumes(deployment)
        writable = [
            PurePosixPath(m["mountPath"])
            for m in container["volumeMounts"]
            if m["name"] in empty_dirs and not m.get("readOnly", False)
        ]

        paths = [PurePosixPath("/tmp")]
        if command in WORKER_SOURCES:
            # faust's data directory (JEUGDHUB_DATA_DIR, relative to the working directory).
            default = WorkerSettings.model_fields["data_dir"].default
            data_dir = PurePosixPath(_env_or_default(container, "JEUGDHUB_DATA_DIR", default))
            paths.append(PurePosixPath(container.get("workingDir", "/")) / data_dir)
        for path in paths:
            assert any(path.is_relative_to(mount) for mount in writable), f"{command}: {path} is read-only"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_one_disruption_budget_per_deployment_that_never_blocks_a_drain(directory: Path) -> None:
    docs = rendered(directory)
    budgets = of_kind(docs, "PodDisruptionBudget")
    autoscalers = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")}
    for command, deployment in _deployments(directory).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        name = deployment["metadata"]["name"]
        fewest = (
            autoscalers[name]["spec"]["minReplicas"]
            if name in autoscalers
            else deployment["spec"].get("replicas", 1)
        )
        spec = budget["spec"]
        if "maxUnavailable" in spec:
            assert spec["maxUnavailable"] >= 1, command
        else:
            assert spec["minAvailable"] < fewest, (
                f"{command}: minAvailable {spec['minAvailable']} blocks drains"
            )
    assert len(budgets) == len(_deployments(directory))


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_ingest_scales_with_its_autoscaler(directory: Path) -> None:
    docs = rendered(directory)
    ingest = _deployments(directory)["ingest"]
    (autoscaler,) = of_kind(docs, "HorizontalPodAutoscaler")
    spec = autoscaler["spec"]
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": ingest["metadata"]["name"],
    }
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    assert "replicas" not in ingest["spec"], "the autoscaler owns the count; `kubectl apply` would reset it"
    (metric,) = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"
    (container,) = containers(ingest)
    assert "cpu" in container["resources"]["requests"], "CPU utilisation is measured against the request"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_worker_replicas_fit_the_partitions_they_share(directory: Path) -> None:
    docs = rendered(directory)
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic")}
    for command, topic in WORKER_SOURCES.items():
        deployment = _deployments(directory)[command]
        replicas = deployment["spec"].get("replicas", 1)
        (container,) = containers(deployment)
        prefix = _env_or_default(container, "JEUGDHUB_TOPIC_PREFIX", "")
        declared = partitions.get(topic.full_name(prefix), topic.partitions)
        assert 1 <= replicas <= declared == topic.partitions, (command, replicas, declared)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_termination_grace_fits_the_shutdown(directory: Path) -> None:
    for command, deployment in _deployments(directory).items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = containers(deployment)
        grace = pod["terminationGracePeriodSeconds"]
        if command in WORKER_SOURCES:
            # faust commits, flushes and leaves the group on SIGTERM; killed, the group waits for the
            # session timeout anyway. Twice that timeout is the bound for a shutdown that is not stuck.
            session = float(
                _env_or_default(
                    container,
                    "JEUGDHUB_SESSION_TIMEOUT_S",
                    WorkerSettings.model_fields["session_timeout_s"].default,
                )
            )
            assert grace >= 2 * session, command
            assert "lifecycle" not in container, "no Service traffic to drain: nothing to wait for"
        else:
            # preStop (endpoints removed) + in-flight requests + a request's wait for its commit.
            pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
            assert pre_stop[0] == "sleep"
            write = float(
                _env_or_default(
                    container,
                    "JEUGDHUB_INGEST_KAFKA_WRITE_TIMEOUT_S",
                    IngestSettings.model_fields["ingest_kafka_write_timeout_s"].default,
                )
            )
            assert grace > int(pre_stop[1]) + AIOHTTP_SHUTDOWN_S + write, command


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_topic_replication_survives_one_broker_down(directory: Path) -> None:
    docs = rendered(directory)
    (config,) = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("jeugdhub-config")]
    factor = int(config["data"]["JEUGDHUB_REPLICATION_FACTOR"])
    pools = of_kind(docs, "KafkaNodePool")
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    for topic in of_kind(docs, "KafkaTopic"):
        replicas = topic["spec"]["replicas"]
        min_isr = int(topic["spec"]["config"]["min.insync.replicas"])
        assert replicas == factor, "a topic a worker creates itself gets the KafkaTopics' factor"
        assert min_isr == 1 if replicas == 1 else 1 < min_isr < replicas, topic["metadata"]["name"]
        if pools:  # the overlay brings its Kafka: enough brokers for every replica
            assert replicas <= brokers, topic["metadata"]["name"]


def test_production_overlay_is_three_brokers_and_two_pods_per_worker() -> None:
    directory = K8S / "overlays" / "production"
    docs = rendered(directory)
    for doc in docs:
        if doc["apiVersion"].startswith("kafka.strimzi.io/"):
            assert doc["apiVersion"] == "kafka.strimzi.io/v1", doc["kind"]
    (pool,) = of_kind(docs, "KafkaNodePool")
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert {v["type"] for v in pool["spec"]["storage"]["volumes"]} == {"persistent-claim"}
    assert set(pool["spec"]["resources"]) == {"requests", "limits"}
    (kafka,) = of_kind(docs, "Kafka")
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2
    assert config["default.replication.factor"] == 3
    assert config["offsets.topic.replication.factor"] == 3
    assert config["transaction.state.log.replication.factor"] == 3
    assert config["transaction.state.log.min.isr"] == 2
    assert config["auto.create.topics.enable"] is False
    for topic in of_kind(docs, "KafkaTopic"):
        assert (topic["spec"]["replicas"], topic["spec"]["config"]["min.insync.replicas"]) == (3, "2")
    deployments = _deployments(directory)
    assert {c: deployments[c]["spec"]["replicas"] for c in WORKER_SOURCES} == {"validate": 2, "aggregate": 2}
    (autoscaler,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert autoscaler["spec"]["minReplicas"] >= 2
    for deployment in deployments.values():
        for spread in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]:
            assert spread["topologyKey"] == "kubernetes.io/hostname"
