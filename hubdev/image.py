"""Build the image with buildah and check that it works: ``make image`` (opt-in, not in ``make test``).

No container daemon runs on the project's machines and the Dockerfile's registry base
(``python:3.11-slim-bookworm``) cannot be pulled there, so by default the base is made from Debian
packages with ``mmdebstrap`` (bookworm's python3 is 3.11, as the Dockerfile expects): Python in a
venv at ``/opt/python`` that is first on ``PATH``, so ``python -m pip`` installs where the slim
image's would. The tarball is cached in ``deploy/local/cache/image/`` (git-ignored) under a key of
everything that goes into it; the committed base image is named after that key, so a second run
neither debootstraps nor imports again, and ``buildah build --layers`` reuses unchanged steps.

``buildah`` runs with ``--isolation chroot`` (the default OCI isolation needs cgroups this kernel
does not give). ``pip`` inside ``RUN`` gets the host's CA bundle and a ``pip.conf`` naming it as
read-only build volumes; they are not part of the image.

Then the image is checked the way Kubernetes runs it: its user is 10001, its entrypoint is every
Deployment's ``command``, each Deployment's ``command + args --help`` works, no ``hubdev`` file is
in it, and ``jeugdhub replay`` of the worked example, as uid 10001 with capabilities dropped, gives
its expected figures and rejections. Not seen by ``buildah run``: the pods' read-only root. Every container made here is removed, also on failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from hubdev.paths import REPO, SPEC_EXAMPLES

CACHE = REPO / "deploy" / "local" / "cache" / "image"
K8S_BASE = REPO / "deploy" / "k8s" / "base"
IMAGE = "localhost/jeugdhub:dev"
"""The tag the local overlay's ``jeugdhub:dev`` resolves to once the image is loaded into a cluster."""
IMAGE_USER = "10001:10001"
"""The Dockerfile's ``USER`` and the Deployments' ``runAsUser``/``runAsGroup``."""
AS_OF = "2026-03-31"
"""The worked example's reference date (``../shared/spec/examples/README.md``)."""

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
VENV = "/opt/python"
BASE_ENV = {
    "PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
)
CUSTOMIZE_HOOK = f'chroot "$1" python3 -m venv {VENV}'
HOST_CA_DIR = Path("/etc/ssl/certs")
PIP_CONF = "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n"
NICE = ("nice", "-n", "19")
"""The machines are small and shared: every heavy step runs at the lowest priority."""


class ImageError(RuntimeError):
    """A step failed; the message says which and why."""


def say(line: str) -> None:
    print(f"image: {line}", file=sys.stderr, flush=True)


# -- pure helpers (unit-tested) -----------------------------------------------------------------


def base_key() -> str:
    """A short hash of everything that goes into the Debian base: change one, get a new base."""
    recipe = {
        "suite": SUITE,
        "mirror": MIRROR,
        "packages": sorted(BASE_PACKAGES),
        "dpkg": list(DPKG_OPTIONS),
        "hook": CUSTOMIZE_HOOK,
        "env": BASE_ENV,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def base_tarball(cache: Path = CACHE) -> Path:
    return cache / f"base-{SUITE}-{base_key()}.tar"


def base_image_name() -> str:
    return f"localhost/jeugdhub-base:{SUITE}-{base_key()}"


def mmdebstrap_command(target: Path) -> list[str]:
    """A minimal Debian with Python 3 in a venv (pip from Debian's wheel), packed as a tarball."""
    return [
        *NICE,
        "mmdebstrap",
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        *(f"--dpkgopt={option}" for option in DPKG_OPTIONS),
        f"--customize-hook={CUSTOMIZE_HOOK}",
        SUITE,
        str(target),
        MIRROR,
    ]


def build_command(
    base_image: str | None, pip_conf: Path, tag: str = IMAGE, context: Path = REPO
) -> list[str]:
    """``buildah build`` of the Dockerfile; *base_image* None keeps the Dockerfile's registry base."""
    command = [*NICE, "buildah", "build", "--isolation", "chroot", "--layers"]
    if base_image is not None:
        command += ["--build-arg", f"PYTHON_IMAGE={base_image}"]
    command += [
        "--volume",
        f"{HOST_CA_DIR}:/etc/ssl/certs:ro",
        "--volume",
        f"{pip_conf}:/etc/pip.conf:ro",
        "--tag",
        tag,
        "--file",
        str(context / "Dockerfile"),
        str(context),
    ]
    return command


def deployment_commands(k8s_base: Path = K8S_BASE) -> dict[str, tuple[list[str], list[str]]]:
    """``{workload: (command, args)}`` of the first container of every Deployment and StatefulSet in the base."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for path in sorted(k8s_base.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") not in ("Deployment", "StatefulSet"):
                continue
            container = doc["spec"]["template"]["spec"]["containers"][0]
            found[doc["metadata"]["name"]] = (list(container["command"]), list(container.get("args", [])))
    return found


def figure_differences(got: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """What differs from the expected figures; as the spec says, key order and extra keys do not
    matter, numbers do (the same comparison as tests/unit/replay/test_replay_example.py)."""
    problems = [
        f"{key}: got {got.get(key)!r}, expected {expected[key]!r}"
        for key in ("as_of", "accepted", "rejected", "duplicates")
        if got.get(key) != expected[key]
    ]
    got_regions = [row.get("region") for row in got.get("regions", [])]
    expected_regions = [row["region"] for row in expected["regions"]]
    if got_regions != expected_regions:
        return [*problems, f"regions: got {got_regions}, expected {expected_regions}"]
    for got_row, expected_row in zip(got["regions"], expected["regions"], strict=True):
        problems += [
            f"{expected_row['region']}.{key}: got {got_row.get(key)!r}, expected {value!r}"
            for key, value in expected_row.items()
            if got_row.get(key) != value
        ]
    return problems


def rejection_differences(
    got: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Every expected rejection matched by one recorded rejection of its message id carrying at
    least its codes, and no more rejections than expected."""
    problems = [] if len(got) == len(expected) else [f"{len(got)} rejections, expected {len(expected)}"]
    remaining = list(got)
    for want in expected:
        match = next(
            (
                r
                for r in remaining
                if r.get("message_id") == want["message_id"]
                and set(want["codes"]) <= {e.get("code") for e in r.get("errors", [])}
            ),
            None,
        )
        if match is None:
            problems.append(f"no rejection of {want['message_id']!r} with {sorted(want['codes'])}")
        else:
            remaining.remove(match)
    return problems


# -- the steps ----------------------------------------------------------------------------------


def _run(command: Sequence[str], what: str, log: Path | None = None) -> str:
    """Run *command*; its output goes to *log* (if given) or is returned. Raise with the tail on failure."""
    try:
        if log is not None:
            with log.open("w", encoding="utf-8") as out:
                returncode = subprocess.run(
                    command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
                ).returncode
            stdout = output = log.read_text(encoding="utf-8", errors="replace")
        else:
            result = subprocess.run(
                command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
            )
            returncode, stdout, output = result.returncode, result.stdout, result.stdout + result.stderr
    except FileNotFoundError as exc:
        raise ImageError(f"{what}: {command[0]} not found") from exc
    if returncode != 0:
        tail = "\n".join(output.splitlines()[-25:])
        where = f" (log: {log})" if log is not None else ""
        raise ImageError(f"{what} failed (exit {returncode}){where}:\n{tail}")
    return stdout


def _image_exists(name: str) -> bool:
    result = subprocess.run(
        ["buildah", "inspect", "--type", "image", name],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode == 0


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    timings[step] = time.monotonic() - started
    say(f"{step}: {timings[step]:.1f} s")


class Containers:
    """The working containers this run made, each removed at the end whatever happened."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def create(self, image: str) -> str:
        name = f"jeugdhub-image-check-{os.getpid()}-{len(self.names)}"
        self.names.append(name)  # before it exists: a half-made container is removed too
        _run(["buildah", "from", "--quiet", "--pull-never", "--name", name, image], f"buildah from {image}")
        return name

    def remove_all(self) -> None:
        for name in reversed(self.names):
            subprocess.run(
                ["buildah", "rm", name], capture_output=True, stdin=subprocess.DEVNULL, check=False
            )
        self.names.clear()


def ensure_base(containers: Containers, timings: dict[str, float], cache: Path = CACHE) -> str:
    """The Debian base image, made from the cached tarball (debootstrapped once)."""
    name = base_image_name()
    if _image_exists(name):
        say(f"base {name} present")
        return name
    tarball = base_tarball(cache)
    if not tarball.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        scratch = tarball.with_name(f".{tarball.name}.{os.getpid()}.tmp.tar")
        say(f"making the Debian {SUITE} base with mmdebstrap (once; log {cache / 'mmdebstrap.log'})")
        try:
            with _timed(timings, "mmdebstrap base"):
                _run(mmdebstrap_command(scratch), "mmdebstrap", log=cache / "mmdebstrap.log")
            scratch.rename(tarball)  # whole or not at all
        finally:
            scratch.unlink(missing_ok=True)
    with _timed(timings, "base import"):
        container = containers.create("scratch")
        _run([*NICE, "buildah", "add", "--quiet", container, str(tarball), "/"], "buildah add base")
        env = [arg for key, value in BASE_ENV.items() for arg in ("--env", f"{key}={value}")]
        _run(["buildah", "config", *env, "--cmd", "python", container], "buildah config base")
        _run(["buildah", "commit", "--quiet", container, name], "buildah commit base")
    return name


def ensure_tools(tools: Sequence[str]) -> None:
    """Debian's packages of the same names, installed with apt-get (as root) when missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ImageError(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)} (as root)")
    say(f"installing Debian's {', '.join(missing)} (apt-get, once)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise ImageError(f"{' '.join(command)} failed (exit {result.returncode}):\n{tail}")


def build(base_image: str | None, timings: dict[str, float], cache: Path = CACHE) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    pip_conf = cache / "pip.conf"
    pip_conf.write_text(PIP_CONF, encoding="utf-8")
    say(f"building {IMAGE} from {base_image or 'the Dockerfile base'} (log {cache / 'build.log'})")
    with _timed(timings, "buildah build"):
        _run(build_command(base_image, pip_conf), "buildah build", log=cache / "build.log")


def _in(container: str, *command: str, user: str | None = None, volumes: Sequence[str] = ()) -> str:
    options = ["--isolation", "chroot", *(["--user", user] if user else [])]
    if user == IMAGE_USER:  # as the pods run it: capabilities dropped (securityContext drop ALL)
        options += ["--cap-drop", "ALL"]
    options += [arg for volume in volumes for arg in ("--volume", volume)]
    return _run(["buildah", "run", *options, container, "--", *command], " ".join(command[:3]))


def check(containers: Containers, examples: Path = SPEC_EXAMPLES) -> list[str]:
    """Everything that must hold for the built image; an empty list means it does."""
    problems: list[str] = []
    config = json.loads(_run(["buildah", "inspect", "--type", "image", IMAGE], "buildah inspect"))
    oci = config["OCIv1"]["config"]
    if oci.get("User") != IMAGE_USER:
        problems.append(f"image user {oci.get('User')!r}, expected {IMAGE_USER!r}")
    container = containers.create(IMAGE)
    if (uid := _in(container, "id", "-u").strip()) != IMAGE_USER.split(":")[0]:
        problems.append(f"the image's default user runs as uid {uid}")
    for deployment, (command, args) in deployment_commands().items():
        if command != oci.get("Entrypoint"):
            problems.append(f"{deployment} runs {command}, the image's entrypoint is {oci.get('Entrypoint')}")
        _in(container, *command, *args, "--help", user=IMAGE_USER)  # raises if the command is unknown
    listing = _in(container, "find", "/", "-xdev", "-name", "hubdev*", user="0:0")  # root sees all
    if listing.strip():
        problems.append(f"hubdev in the image: {listing.split()}")
    if not (examples / "feed.jsonl").is_file():
        raise ImageError(f"the worked example is missing: {examples}")
    with tempfile.TemporaryDirectory(prefix="jeugdhub-image-") as out:
        os.chmod(out, 0o777)  # written by uid 10001 inside
        printed = _in(
            container,
            "jeugdhub",
            "replay",
            "/examples/feed.jsonl",
            "--as-of",
            AS_OF,
            "--regions",
            "/examples/regions.csv",
            "--rejections",
            "/out/rejections.jsonl",
            user=IMAGE_USER,
            volumes=[f"{examples}:/examples:ro", f"{out}:/out"],
        )
        rejections = [json.loads(line) for line in (Path(out) / "rejections.jsonl").read_text().splitlines()]
    expected = json.loads((examples / "expected-figures.json").read_text(encoding="utf-8"))
    problems += figure_differences(json.loads(printed), expected)
    expected_rejections = [
        json.loads(line) for line in (examples / "expected-rejections.jsonl").read_text().splitlines() if line
    ]
    problems += rejection_differences(rejections, expected_rejections)
    if not problems:
        say(
            f"replay as uid 10001: {expected['accepted']} accepted, {expected['rejected']} rejected, "
            f"{expected['duplicates']} duplicates, {len(expected['regions'])} regions and "
            f"{len(rejections)} rejections exactly as expected"
        )
    return problems


def image_size(name: str = IMAGE) -> str:
    return _run(["buildah", "images", "--format", "{{.Size}}", name], "buildah images").strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubdev.image", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base",
        choices=("debian", "registry"),
        default="debian",
        help="debian: mmdebstrap base (default; no container registry needed); "
        "registry: the Dockerfile's python:3.11-slim-bookworm",
    )
    args = parser.parse_args(argv)
    try:
        ensure_tools(("buildah",) if args.base == "registry" else ("buildah", "mmdebstrap"))
    except ImageError as exc:
        say(str(exc))
        return 2
    timings: dict[str, float] = {}
    containers = Containers()
    started = time.monotonic()
    try:
        base = ensure_base(containers, timings) if args.base == "debian" else None
        containers.remove_all()
        build(base, timings)
        with _timed(timings, "checks"):
            problems = check(containers)
    except ImageError as exc:
        say(str(exc))
        return 1
    finally:
        containers.remove_all()
    say(f"{IMAGE}: {image_size()}, {time.monotonic() - started:.1f} s in all")
    for problem in problems:
        say(f"FAILED {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
