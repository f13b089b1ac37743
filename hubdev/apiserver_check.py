"""``jeugdhub k8s-dry-run`` (``make check-k8s``): every rendered kustomization applied to a real
kube-apiserver with ``--dry-run=server``, opt-in because the first build takes minutes.

The schema check (:mod:`hubdev.k8scheck`) is client-side; this asks the API server itself, which
also runs what the JSON schemas cannot: CRD structural pruning and CEL rules, defaulting, the
built-in admission plugins, and server-side apply's field validation (``--validate=strict``:
unknown and duplicate fields refused). What it still cannot see: webhooks, controllers and the
operators (nothing reconciles; no pod runs).

Steps, all on 127.0.0.1 with free ports and one temporary directory, everything stopped on exit:

1. kube-apiserver and kubectl built once from the Go module ``k8s.io/kubernetes`` pinned in
   ``hubdev/apiserver/go.mod`` (the Kubernetes minor the schema check uses), ``nice -n 19``, into
   ``deploy/local/cache/apiserver/`` with their Go module and build caches; Debian's ``etcd``
   (package ``etcd-server``, installed with apt-get when missing and run as root).
2. etcd; kube-apiserver with ``--authorization-mode=AlwaysAllow``, a static token for kubectl,
   self-signed serving certificates (its ``--cert-dir``) and a service-account signing key made
   with openssl.
3. The CRDs the schema check uses (Strimzi's generated ones, prometheus-operator's), applied for
   real and waited for; the namespaces the rendered resources name, created.
4. ``kubectl apply --server-side --dry-run=server --validate=strict -f -`` of every target of
   :func:`hubdev.k8scheck.check.targets` plus the base with every component.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from hubdev.k8scheck.fetch import (
    KUBERNETES_VERSION,
    REPO_ROOT,
    FetchError,
    _building,
    _complete,
    _run,
    go_env,
)

HOST = "127.0.0.1"
MODULE_DIR = REPO_ROOT / "hubdev" / "apiserver"
CACHE = REPO_ROOT / "deploy" / "local" / "cache" / "apiserver"
FIELD_MANAGER = "jeugdhub-dry-run"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
COMMANDS = ("k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kubectl")

Progress = Callable[[str], None]


def say_stderr(line: str) -> None:
    print(f"k8s-dry-run: {line}", file=sys.stderr, flush=True)


class DryRunError(RuntimeError):
    """The dry run could not be set up (build, etcd, start-up); the message says why."""


# --- versions ----------------------------------------------------------------------------------


def kubernetes_module_version(go_mod: Path = MODULE_DIR / "go.mod") -> str:
    """The ``k8s.io/kubernetes`` version ``hubdev/apiserver/go.mod`` requires (e.g. ``v1.33.13``)."""
    match = re.search(
        r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\d+\.\d+\.\d+)(?:\s*//.*)?$", go_mod.read_text(), re.M
    )
    if match is None:
        raise DryRunError(f"{go_mod} requires no k8s.io/kubernetes version")
    return match.group(1)


def staging_replacements(go_mod: Path = MODULE_DIR / "go.mod") -> dict[str, str]:
    """``k8s.io/<staging module>`` -> the version go.mod replaces it with."""
    pairs = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\1\s+(v\S+)\s*$", go_mod.read_text(), re.M)
    return dict(pairs)


def minor(version: str) -> str:
    """``v1.33.13`` or ``1.33.0`` -> ``1.33``."""
    major, minor_part = version.lstrip("v").split(".")[:2]
    return f"{major}.{minor_part}"


def version_ldflags(version: str) -> str:
    """Stamp the version into both binaries (``/version``, ``kubectl version``), as Kubernetes'
    own build does; without it they call themselves ``v0.0.0-master``."""
    major, minor_part = version.lstrip("v").split(".")[:2]
    stamps = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor_part}",
            f"-X {package}.gitTreeState=clean",
        ]
    return " ".join(stamps)


# --- build and install once --------------------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    kube_apiserver: Path
    kubectl: Path
    etcd: Path
    version: str


def build_command(version: str, out_dir: Path) -> list[str]:
    """``go build`` of kube-apiserver and kubectl at the lowest CPU priority (shared machines)."""
    return [
        "nice",
        "-n",
        "19",
        "go",
        "build",
        "-trimpath",
        f"-ldflags={version_ldflags(version)}",
        "-o",
        f"{out_dir}{os.sep}",
        *COMMANDS,
    ]


def ensure_kubernetes_binaries(cache: Path = CACHE, say: Progress = say_stderr) -> tuple[Path, Path, str]:
    """kube-apiserver and kubectl, built once per go.mod/go.sum into ``cache/bin-<version>-<hash>``."""
    version = kubernetes_module_version()
    if minor(version) != minor(KUBERNETES_VERSION):
        raise FetchError(
            f"hubdev/apiserver/go.mod builds Kubernetes {version}, the schema check uses {KUBERNETES_VERSION}: "
            "check both against one minor version"
        )
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((MODULE_DIR / name).read_bytes())
    target = cache / f"bin-{version}-{digest.hexdigest()[:12]}"
    apiserver, kubectl = target / "kube-apiserver", target / "kubectl"
    if _complete(target) and apiserver.is_file() and kubectl.is_file():
        return apiserver, kubectl, version
    if shutil.which("go") is None:
        raise FetchError("Go is needed once to build kube-apiserver and kubectl (apt-get install golang-go)")
    say(f"building kube-apiserver and kubectl {version} from k8s.io/kubernetes (once; minutes, nice 19)")
    started = time.monotonic()
    with _building(target) as scratch:
        _run(
            build_command(version, scratch),
            "go build kube-apiserver kubectl",
            env=go_env(cache),
            cwd=MODULE_DIR,
        )
    say(f"built in {time.monotonic() - started:.0f} s into {target}")
    return apiserver, kubectl, version


def ensure_etcd(say: Progress = say_stderr) -> Path:
    """Debian's etcd; installed (package ``etcd-server``, its service not started) when missing."""
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").is_file() else None)
    if found:
        return Path(found)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise FetchError("etcd is missing: apt-get install --no-install-recommends etcd-server (as root)")
    say("installing Debian's etcd-server (apt-get; its system service is not started)")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:  # invoke-rc.d asks this script; 101 = "not allowed": the package's service stays down
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(["apt-get", "update", "-qq"], "apt-get update", env=env)
        _run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "etcd-server"],
            "apt-get install etcd-server",
            env=env,
        )
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    if Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "disable", "--now", "etcd"], capture_output=True, check=False)
    if not Path("/usr/bin/etcd").is_file():
        raise FetchError("etcd-server installed but /usr/bin/etcd is missing")
    return Path("/usr/bin/etcd")


def ensure_tools(cache: Path = CACHE, say: Progress = say_stderr) -> Tools:
    apiserver, kubectl, version = ensure_kubernetes_binaries(cache, say)
    return Tools(apiserver, kubectl, ensure_etcd(say), version)


# --- the throw-away control plane --------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Files and ports of one run (everything under ``root``, a temporary directory)."""

    root: Path
    etcd_client_port: int
    etcd_peer_port: int
    apiserver_port: int
    token: str

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def cert_dir(self) -> Path:
        return self.root / "certs"

    @property
    def serving_cert(self) -> Path:
        """Written by kube-apiserver (self-signed: its certificate, then the CA that signed it)."""
        return self.cert_dir / "apiserver.crt"

    @property
    def sa_key(self) -> Path:
        return self.root / "service-account.key"

    @property
    def sa_pub(self) -> Path:
        return self.root / "service-account.pub"

    @property
    def token_file(self) -> Path:
        return self.root / "tokens.csv"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def etcd_url(self) -> str:
        return f"http://{HOST}:{self.etcd_client_port}"

    @property
    def server(self) -> str:
        return f"https://{HOST}:{self.apiserver_port}"


def new_layout(root: Path) -> Layout:
    from hubdev.localkafka.broker import free_port  # imports kafka: not at `jeugdhub` start-up

    ports: set[int] = set()
    while len(ports) < 3:  # three distinct ones (free_port may hand out the same port twice)
        ports.add(free_port(HOST))
    client, peer, apiserver = sorted(ports)
    return Layout(root, client, peer, apiserver, secrets.token_urlsafe(24))


def etcd_argv(etcd: Path, layout: Layout) -> list[str]:
    peer = f"http://{HOST}:{layout.etcd_peer_port}"
    return [
        str(etcd),
        "--name=dry-run",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={layout.etcd_url}",
        f"--advertise-client-urls={layout.etcd_url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=dry-run={peer}",
        "--initial-cluster-state=new",
        "--log-level=warn",
    ]


def apiserver_argv(apiserver: Path, layout: Layout) -> list[str]:
    """No controller-manager, scheduler or kubelet: the API, admission and CRD handling only."""
    return [
        str(apiserver),
        f"--etcd-servers={layout.etcd_url}",
        f"--bind-address={HOST}",
        f"--advertise-address={HOST}",
        f"--secure-port={layout.apiserver_port}",
        f"--cert-dir={layout.cert_dir}",  # no --tls-cert-file: it writes a self-signed pair there
        f"--service-account-key-file={layout.sa_pub}",
        f"--service-account-signing-key-file={layout.sa_key}",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--token-auth-file={layout.token_file}",
        "--authorization-mode=AlwaysAllow",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
    ]


def token_csv(token: str) -> str:
    """kube-apiserver's static token file: token,user,uid,"groups" (system:masters: an admin)."""
    return f'{token},{FIELD_MANAGER},{FIELD_MANAGER},"system:masters"\n'


def kubeconfig_yaml(layout: Layout) -> str:
    # kube-apiserver's self-signed certificate names its advertise address, 127.0.0.1.
    return f"""apiVersion: v1
kind: Config
clusters:
- name: dry-run
  cluster:
    server: {layout.server}
    certificate-authority: {layout.serving_cert}
users:
- name: dry-run
  user:
    token: {layout.token}
contexts:
- name: dry-run
  context: {{cluster: dry-run, user: dry-run, namespace: default}}
current-context: dry-run
"""


def dry_run_argv(kubectl: Path, kubeconfig: Path) -> list[str]:
    """Server-side apply, nothing persisted, unknown or duplicate fields refused by the server."""
    return [
        str(kubectl),
        f"--kubeconfig={kubeconfig}",
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        f"--field-manager={FIELD_MANAGER}",
        "-f",
        "-",
    ]


def namespaces_of(documents: Iterable[dict[str, Any] | None]) -> set[str]:
    """The namespaces the resources name (or are): they must exist before a namespaced dry run."""
    found: set[str] = set()
    for doc in documents:
        if not doc:
            continue
        metadata = doc.get("metadata") or {}
        if doc.get("kind") == "Namespace" and metadata.get("name"):
            found.add(str(metadata["name"]))
        elif metadata.get("namespace"):
            found.add(str(metadata["namespace"]))
    return found


def make_service_account_key(layout: Layout) -> None:
    """An EC P-256 key pair for signing service-account tokens (kube-apiserver refuses to start without)."""
    if shutil.which("openssl") is None:
        raise DryRunError("openssl is needed for the service-account key: apt-get install openssl")
    _run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            str(layout.sa_key),
        ],
        "openssl genpkey",
    )
    _run(
        ["openssl", "pkey", "-in", str(layout.sa_key), "-pubout", "-out", str(layout.sa_pub)], "openssl pkey"
    )


@dataclass
class ControlPlane:
    """etcd and kube-apiserver as children of this process, each in its own process group."""

    tools: Tools
    layout: Layout
    children: list[Any] = field(default_factory=list)
    """:class:`hubdev.processes.Child` each (imported when started)."""

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout_s: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.tools.kubectl), f"--kubeconfig={self.layout.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(self, timeout_s: float = 120) -> None:
        from hubdev.processes import Child  # imports kafka: not at `jeugdhub` start-up

        layout = self.layout
        layout.cert_dir.mkdir(parents=True)
        make_service_account_key(layout)
        layout.token_file.write_text(token_csv(layout.token))
        layout.token_file.chmod(0o600)
        layout.kubeconfig.write_text(kubeconfig_yaml(layout))
        layout.kubeconfig.chmod(0o600)
        for name, argv in (
            ("etcd", etcd_argv(self.tools.etcd, layout)),
            ("kube-apiserver", apiserver_argv(self.tools.kube_apiserver, layout)),
        ):
            child = Child(
                name=name,
                argv=argv,
                env=dict(os.environ),
                log_path=layout.root / f"{name}.log",
                own_session=True,
                death_signal=signal.SIGTERM,
                tail_lines=30,
            )
            self.children.append(child.start())
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        answer = ""
        while time.monotonic() < deadline:
            for child in self.children:
                if not child.alive:
                    raise DryRunError(
                        f"{child.name} exited with {child.exit_code}; {child.log_path}:\n{child.log_tail(30)}"
                    )
            if self.layout.serving_cert.is_file():
                result = self.kubectl("get", "--raw", "/readyz", timeout_s=10)
                answer = (result.stdout + result.stderr).strip()
                if result.returncode == 0 and answer == "ok":
                    return
            time.sleep(0.5)
        raise DryRunError(f"kube-apiserver not ready after {timeout_s:.0f} s: {answer[-2000:]}")

    def stop(self) -> None:
        """The apiserver first (it holds etcd connections), then etcd; SIGKILL after 5 s (nothing
        in them is worth a longer wait: the run's state is thrown away)."""
        for child in reversed(self.children):
            child.stop(timeout_s=5)
        self.children.clear()


@contextmanager
def control_plane(tools: Tools, keep: Path | None = None) -> Iterator[ControlPlane]:
    """A running etcd + kube-apiserver, stopped (and their directory removed unless *keep*) on exit,
    also on SIGTERM/SIGHUP (turned into SystemExit so the ``finally`` runs)."""

    def exit_on(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, exit_on) for sig in (signal.SIGTERM, signal.SIGHUP)}
    root = Path(tempfile.mkdtemp(prefix="jeugdhub-dry-run-")) if keep is None else keep
    root.mkdir(parents=True, exist_ok=True)
    plane = ControlPlane(tools, new_layout(root))
    try:
        plane.start()
        yield plane
    finally:
        for sig in previous:  # a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        plane.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


# --- the dry run -------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What the API server said about one rendered target."""

    target: str
    resources: int
    accepted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors and len(self.accepted) == self.resources


def parse_apply_output(stdout: str, stderr: str) -> tuple[list[str], list[str]]:
    """(accepted resources, error lines) of ``kubectl apply --dry-run=server``."""
    accepted = [line.split()[0] for line in stdout.splitlines() if line.strip().endswith("(server dry run)")]
    errors = [line.strip() for line in stderr.splitlines() if line.strip()]
    return accepted, errors


def install_crds(plane: ControlPlane, crd_files: Sequence[Path], say: Progress) -> None:
    args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}"]
    for path in crd_files:
        args += ["-f", str(path)]
    result = plane.kubectl(*args)
    if result.returncode != 0:
        raise DryRunError(f"applying the CRDs failed:\n{result.stdout}{result.stderr}")
    result = plane.kubectl("wait", "--for=condition=Established", "--timeout=120s", "crd", "--all")
    if result.returncode != 0:
        raise DryRunError(f"the CRDs were not established:\n{result.stdout}{result.stderr}")
    say(f"{len(result.stdout.splitlines())} CRDs established")


def create_namespaces(plane: ControlPlane, names: Iterable[str]) -> None:
    wanted = sorted(set(names) - {"default", "kube-system", "kube-public"})
    if not wanted:
        return
    manifest = "".join(
        f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n" for name in wanted
    )
    result = plane.kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-", stdin=manifest
    )
    if result.returncode != 0:
        raise DryRunError(f"creating namespaces {wanted} failed:\n{result.stdout}{result.stderr}")


def dry_run(plane: ControlPlane, target: str, rendered: str, resources: int) -> Verdict:
    started = time.monotonic()
    result = subprocess.run(
        dry_run_argv(plane.tools.kubectl, plane.layout.kubeconfig),
        input=rendered,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    accepted, errors = parse_apply_output(result.stdout, result.stderr)
    if result.returncode != 0 and not errors:
        errors = [f"kubectl exited {result.returncode}"]
    return Verdict(target, resources, accepted, errors, time.monotonic() - started)


def negative_controls(documents: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resources the server must refuse, made from rendered ones: if one is accepted, the dry run is
    not checking what it claims to (e.g. strict field validation off, a CRD not structural)."""
    deployment = copy.deepcopy(next(doc for doc in documents if doc["kind"] == "Deployment"))
    topic = copy.deepcopy(next(doc for doc in documents if doc["kind"] == "KafkaTopic"))
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["revisionHistoryLimit"] = "ten"
    topic_field = copy.deepcopy(topic)
    topic_field["spec"]["partitionz"] = 6
    topic_type = copy.deepcopy(topic)
    topic_type["spec"]["partitions"] = "six"
    topic_old = copy.deepcopy(topic)
    topic_old["apiVersion"] = "kafka.strimzi.io/v1beta2"
    return {
        "Deployment with a misspelt container field": misspelt,
        "Deployment with a string for an integer": wrong_type,
        "KafkaTopic with a misspelt spec field": topic_field,
        "KafkaTopic with a string for partitions": topic_type,
        "KafkaTopic on kafka.strimzi.io/v1beta2 (Strimzi 1.x serves v1 only)": topic_old,
    }


@dataclass
class Outcome:
    """Every target's verdict, and each negative control's refusal (its first error line, or None)."""

    verdicts: list[Verdict]
    controls: dict[str, str | None]

    @property
    def ok(self) -> bool:
        return all(verdict.ok for verdict in self.verdicts) and all(self.controls.values())


def run(say: Progress = say_stderr, keep: Path | None = None) -> Outcome:
    """Build/fetch what is missing, start the control plane, dry-run every target and the negative
    controls, stop it."""
    import yaml

    from hubdev.k8scheck.check import K8S, all_components_kustomization, render, targets
    from hubdev.k8scheck.fetch import ensure_all, ensure_prometheus_operator_crds, ensure_strimzi_crds

    started = time.monotonic()
    fetched = ensure_all(say=say)
    crd_files = [
        path
        for crd_dir in (ensure_strimzi_crds(say=say), ensure_prometheus_operator_crds(say=say))
        for path in sorted(crd_dir.glob("*.yaml"))
    ]
    tools = ensure_tools(say=say)
    say(f"tools ready in {time.monotonic() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="k8s-dry-run-components-") as tmp:
        streams = {
            target.name: render(fetched.kustomize, target.directory)
            for target in [*targets(K8S), all_components_kustomization(K8S, Path(tmp))]
        }
    documents = {name: [doc for doc in yaml.safe_load_all(text) if doc] for name, text in streams.items()}
    verdicts: list[Verdict] = []
    up = time.monotonic()
    with control_plane(tools, keep) as plane:
        say(
            f"etcd and kube-apiserver {tools.version} ready in {time.monotonic() - up:.1f} s on {plane.layout.server}"
        )
        install_crds(plane, crd_files, say)
        create_namespaces(plane, (ns for docs in documents.values() for ns in namespaces_of(docs)))
        for name, text in streams.items():
            verdicts.append(dry_run(plane, name, text, len(documents[name])))
        controls: dict[str, str | None] = {}
        for name, doc in negative_controls(documents["overlays/local"]).items():
            verdict = dry_run(plane, name, yaml.safe_dump(doc, sort_keys=False), 1)
            controls[name] = verdict.errors[0] if verdict.errors and not verdict.accepted else None
    say(f"done in {time.monotonic() - started:.1f} s (etcd and kube-apiserver stopped)")
    return Outcome(verdicts, controls)


# --- command -----------------------------------------------------------------------------------


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "k8s-dry-run",
        help="apply every deploy/k8s overlay with --server-side --dry-run=server --validate=strict to a "
        "real kube-apiserver + etcd on 127.0.0.1 (opt-in: `make check-k8s`; built once, minutes)",
    )
    parser.add_argument(
        "--fetch-only",
        action="store_true",
        help="build kube-apiserver and kubectl and install etcd, run nothing",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the run's directory (logs, kubeconfig) here instead of a temp dir",
    )
    parser.set_defaults(func=cmd_dry_run)


def cmd_dry_run(args: argparse.Namespace) -> int:
    try:
        if args.fetch_only:
            ensure_tools()
            return 0
        outcome = run(keep=args.keep)
    except (FetchError, DryRunError) as exc:
        print(f"k8s-dry-run: {exc}", file=sys.stderr)
        return 2
    for verdict in outcome.verdicts:
        word = "ok" if verdict.ok else "REFUSED"
        print(
            f"{word:8} {verdict.target}: {len(verdict.accepted)}/{verdict.resources} resources accepted "
            f"({verdict.seconds:.1f} s)"
        )
        for error in verdict.errors:
            print(f"           {error}")
    for name, refusal in outcome.controls.items():
        print(f"{'refused' if refusal else 'ACCEPTED':8} negative control: {name}")
        print(
            f"           {refusal or 'the server accepted what it must refuse: the dry run checks less than it claims'}"
        )
    return 0 if outcome.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hubdev.apiserver_check`` (same as ``jeugdhub k8s-dry-run``)."""
    parser = argparse.ArgumentParser(prog="python -m hubdev.apiserver_check")
    register(parser.add_subparsers(required=True))
    return int(cmd_dry_run(parser.parse_args(["k8s-dry-run", *(argv if argv is not None else sys.argv[1:])])))


if __name__ == "__main__":
    raise SystemExit(main())
