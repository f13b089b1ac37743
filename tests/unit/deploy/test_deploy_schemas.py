"""Every rendered resource of deploy/k8s against pinned real schemas (kubeconform, strict).

Kubernetes 1.33 from kubernetes-validate, Strimzi's CRDs generated from io.strimzi:api, and
prometheus-operator's CRDs (hubdev/k8scheck). The tools and schemas are fetched once into
deploy/local/cache/k8scheck (scripts/build-tools.sh does it for bootstrap and the test command; the fixture does it too if bootstrap did
not); afterwards these tests run offline in seconds. A fetch failure fails the tests: they do not skip.
The negative controls show that the check refuses what the API server would refuse.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from hubdev.k8scheck.check import K8S, Report, check_all, render, validate_many
from hubdev.k8scheck.crdschema import to_json_schema
from hubdev.k8scheck.fetch import STRIMZI_KINDS, Fetched, FetchError, ensure_all


@pytest.fixture(scope="module")
def fetched() -> Fetched:
    try:
        return ensure_all()
    except FetchError as exc:
        pytest.fail(
            f"the schema check's tools could not be fetched (`jeugdhub k8s-check --fetch-only`): {exc}"
        )


def test_every_kustomization_is_valid_against_the_pinned_schemas(fetched: Fetched) -> None:
    reports = check_all(fetched)
    names = [report.target for report in reports]
    assert names[0] == "base"
    assert "overlays/local" in names
    assert any("kafka-users" in name and "monitoring" in name for name in names)
    kinds = {
        doc["kind"]
        for report in reports
        if report.target == "overlays/local"
        for doc in yaml.safe_load_all(render(fetched.kustomize, K8S / "overlays" / "local"))
        if doc
    }
    # the custom resources are in what was checked, not only core kinds
    assert {"KafkaTopic", "Kafka", "KafkaNodePool", "ServiceMonitor", "PrometheusRule"} <= kinds
    failed = [report for report in reports if not report.ok]
    assert not failed, "\n".join(f"{r.target}:\n  " + "\n  ".join(r.problems) for r in failed)
    assert all(report.resources > 0 for report in reports)


def _first(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(doc for doc in docs if doc["kind"] == kind))


def _mutants(fetched: Fetched) -> dict[str, dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(render(fetched.kustomize, K8S / "overlays" / "local")) if doc]
    deployment = _first(docs, "Deployment")
    topic = _first(docs, "KafkaTopic")
    user = next(
        doc
        for doc in yaml.safe_load_all(
            (K8S / "components" / "kafka-users" / "generated" / "kafka-users.yaml").read_text(
                encoding="utf-8"
            )
        )
        if doc
    )
    out = {
        "deployment as rendered": deployment,
        "KafkaTopic as rendered": topic,
        "KafkaUser as generated": user,
    }

    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["imagePullPolicey"] = "Always"
    out["core: misspelt field"] = misspelt
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "2"
    out["core: wrong type"] = wrong_type

    misspelt = copy.deepcopy(topic)
    misspelt["spec"]["partiton"] = misspelt["spec"].pop("partitions")
    out["strimzi: misspelt field"] = misspelt
    wrong_type = copy.deepcopy(topic)
    wrong_type["spec"]["partitions"] = str(wrong_type["spec"]["partitions"])
    out["strimzi: wrong type"] = wrong_type
    # Strimzi 1.x dropped the singular `operation` of an ACL rule (v1beta2 had both).
    dropped = copy.deepcopy(user)
    dropped["spec"]["authorization"]["acls"][0]["operation"] = "Read"
    out["strimzi: field v1 dropped"] = dropped
    old_api = copy.deepcopy(topic)
    old_api["apiVersion"] = "kafka.strimzi.io/v1beta2"
    out["strimzi: v1beta2, which Strimzi 1.x no longer serves"] = old_api
    return out


@pytest.fixture(scope="module")
def mutant_reports(fetched: Fetched) -> dict[str, Report]:
    return validate_many(fetched, {name: yaml.safe_dump(doc) for name, doc in _mutants(fetched).items()})


@pytest.mark.parametrize(
    "name", ["deployment as rendered", "KafkaTopic as rendered", "KafkaUser as generated"]
)
def test_negative_controls_start_from_valid_resources(mutant_reports: dict[str, Report], name: str) -> None:
    assert mutant_reports[name].ok, mutant_reports[name].problems


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("core: misspelt field", "'imagePullPolicey' not allowed"),
        ("core: wrong type", "at '/spec/replicas': got string"),
        ("strimzi: misspelt field", "'partiton' not allowed"),
        ("strimzi: wrong type", "/spec/partitions: got string, want integer"),
        ("strimzi: field v1 dropped", "'operation' not allowed"),
        ("strimzi: v1beta2, which Strimzi 1.x no longer serves", "could not find schema"),
    ],
)
def test_negative_controls_are_refused(mutant_reports: dict[str, Report], name: str, expected: str) -> None:
    report = mutant_reports[name]
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_strimzi_schemas_are_the_v1_api_only(fetched: Fetched) -> None:
    strimzi = next(path for path in fetched.crd_schema_dirs if "strimzi" in str(path))
    files = sorted(path.relative_to(strimzi).as_posix() for path in strimzi.rglob("*.json"))
    kinds = sorted(cls.rsplit(".", 1)[1].lower() for cls in STRIMZI_KINDS)
    assert files == [f"kafka.strimzi.io/{kind}_v1.json" for kind in kinds]


def test_crd_conversion_closes_objects_except_where_unknown_fields_are_preserved() -> None:
    schema = to_json_schema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "port": {"x-kubernetes-int-or-string": True},
                        "note": {"type": "string", "nullable": True},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    # an alternative's property list constrains; it must not close the object
                    "oneOf": [{"properties": {"port": {}}, "required": ["port"]}],
                }
            },
        }
    )
    spec = schema["properties"]["spec"]
    assert schema["additionalProperties"] is False
    assert spec["additionalProperties"] is False
    assert "additionalProperties" not in spec["properties"]["config"]
    assert spec["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert spec["properties"]["note"]["type"] == ["string", "null"]
    assert spec["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in spec["oneOf"][0]
    assert not any(key.startswith("x-kubernetes-") for key in spec["properties"]["config"])
