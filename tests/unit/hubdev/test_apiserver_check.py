"""The pure parts of ``jeugdhub k8s-dry-run`` (hubdev/apiserver_check.py): pinned versions and the
command lines. The dry run itself needs the built kube-apiserver and is opt-in (`make check-k8s`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from hubdev.apiserver_check import (
    HOST,
    Layout,
    apiserver_argv,
    build_command,
    dry_run_argv,
    etcd_argv,
    kubeconfig_yaml,
    kubernetes_module_version,
    minor,
    namespaces_of,
    negative_controls,
    parse_apply_output,
    staging_replacements,
    token_csv,
)
from hubdev.k8scheck.fetch import KUBERNETES_VERSION

LAYOUT = Layout(
    Path("/tmp/run"), etcd_client_port=40001, etcd_peer_port=40002, apiserver_port=40003, token="t0k"
)


def test_the_built_apiserver_is_the_kubernetes_minor_the_schemas_are() -> None:
    version = kubernetes_module_version()
    assert minor(version) == minor(KUBERNETES_VERSION)
    staging = staging_replacements()
    # k8s.io/kubernetes points these at ./staging; each must be replaced by its published v0.x twin
    assert {
        "k8s.io/api",
        "k8s.io/apimachinery",
        "k8s.io/apiserver",
        "k8s.io/client-go",
        "k8s.io/kubectl",
    } <= set(staging)
    patch = version.lstrip("v").split(".", 1)[1]
    assert set(staging.values()) == {f"v0.{patch}"}


def test_version_parsing() -> None:
    assert minor("v1.33.13") == "1.33"
    assert minor("1.33.0") == "1.33"


def test_build_is_niced_and_stamped_with_the_version() -> None:
    command = build_command("v1.33.13", Path("/out"))
    assert command[:3] == ["nice", "-n", "19"]
    assert command[-2:] == ["k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kubectl"]
    assert "k8s.io/component-base/version.gitVersion=v1.33.13" in next(
        a for a in command if a.startswith("-ldflags")
    )


def test_etcd_listens_on_loopback_only() -> None:
    argv = etcd_argv(Path("/usr/bin/etcd"), LAYOUT)
    urls = [arg.split("=", 1)[1] for arg in argv if "-urls=" in arg]
    assert urls, argv
    assert all(url.startswith(f"http://{HOST}:4000") for url in urls)
    assert f"--data-dir={LAYOUT.root / 'etcd'}" in argv


def test_apiserver_binds_loopback_allows_all_and_uses_the_runs_files() -> None:
    argv = apiserver_argv(Path("/bin/kube-apiserver"), LAYOUT)
    assert "--bind-address=127.0.0.1" in argv
    assert "--secure-port=40003" in argv
    assert "--etcd-servers=http://127.0.0.1:40001" in argv
    assert "--authorization-mode=AlwaysAllow" in argv
    assert f"--token-auth-file={LAYOUT.token_file}" in argv
    assert f"--service-account-signing-key-file={LAYOUT.sa_key}" in argv
    assert not any("0.0.0.0" in arg for arg in argv)
    assert all(str(LAYOUT.root) in arg for arg in argv if arg.endswith((".key", ".pub", ".csv", "certs")))


def test_kubeconfig_and_token_file_agree() -> None:
    config = yaml.safe_load(kubeconfig_yaml(LAYOUT))
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:40003"
    assert cluster["certificate-authority"] == str(LAYOUT.serving_cert)
    assert config["users"][0]["user"]["token"] == "t0k"
    assert token_csv("t0k").startswith("t0k,") and '"system:masters"' in token_csv("t0k")


def test_dry_run_is_server_side_strict_and_persists_nothing() -> None:
    argv = dry_run_argv(Path("/bin/kubectl"), Path("/tmp/run/kubeconfig"))
    assert {"apply", "--server-side", "--dry-run=server", "--validate=strict"} <= set(argv)
    assert argv[-2:] == ["-f", "-"]


def test_namespaces_of_rendered_resources() -> None:
    docs = [
        {"kind": "Namespace", "metadata": {"name": "jeugdhub"}},
        {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "monitoring"}},
        {"kind": "ConfigMap", "metadata": {"name": "y"}},
        None,
    ]
    assert namespaces_of(docs) == {"jeugdhub", "monitoring"}


def test_apply_output_parsing() -> None:
    stdout = (
        "configmap/jeugdhub-config serverside-applied (server dry run)\n"
        "deployment.apps/jeugdhub-ingest serverside-applied (server dry run)\n"
    )
    stderr = 'Error from server (BadRequest): error when creating "STDIN": unknown field "spec.foo"\n'
    accepted, errors = parse_apply_output(stdout, stderr)
    assert accepted == ["configmap/jeugdhub-config", "deployment.apps/jeugdhub-ingest"]
    assert errors == [stderr.strip()]


def test_negative_controls_are_mutants_of_the_rendered_resources() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}},
    }
    topic = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "metadata": {"name": "t"}, "spec": {}}
    controls = negative_controls([deployment, topic])
    assert len(controls) == 5
    assert all(control not in (deployment, topic) for control in controls.values())
    assert deployment["spec"] == {
        "template": {"spec": {"containers": [{"name": "c"}]}}
    }  # originals untouched
    assert topic == {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
        "spec": {},
    }
    assert sum(control["apiVersion"] == "kafka.strimzi.io/v1beta2" for control in controls.values()) == 1
