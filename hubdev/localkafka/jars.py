"""Resolve the Apache Kafka broker jars with Maven into a per-version cache.

``deploy/local/pom.xml`` is the one place the Kafka version is pinned; this module reads it from
there, so bumping the broker is a one-line change. Jars land in
``deploy/local/cache/jars-<kafka.version>/`` (git-ignored). A cache directory is only ever
created whole: Maven copies into a scratch directory that is renamed into place after a
manifest is written, so an interrupted download or two sessions resolving at once never leave a
half-filled classpath behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DEPLOY_DIR = REPO_ROOT / "deploy" / "local"
POM_PATH = LOCAL_DEPLOY_DIR / "pom.xml"
CACHE_ROOT = LOCAL_DEPLOY_DIR / "cache"
MANIFEST_NAME = ".complete"

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
# kafka-tools carries the admin CLIs and their extra dependencies; the broker does not need it and
# keeping it out keeps the classpath to what `kafka.Kafka` and `StorageTool` load.
_FORBIDDEN_JAR = re.compile(r"^kafka-tools-\d[\w.\-]*\.jar$")

Progress = Callable[[str], None]


class JarResolutionError(RuntimeError):
    """Maven could not produce a usable broker classpath."""


def stderr_progress(line: str) -> None:
    """Default progress sink: stderr, so a CLI's stdout stays machine-readable."""
    print(f"localkafka: {line}", file=sys.stderr, flush=True)


def kafka_version(pom: Path = POM_PATH) -> str:
    """Return ``<kafka.version>`` from the pom: the single source of the broker version."""
    root = ET.parse(pom).getroot()
    node = root.find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise JarResolutionError(f"{pom} has no <properties><kafka.version>")
    return (node.text or "").strip()


def jar_dir(version: str, cache_root: Path = CACHE_ROOT) -> Path:
    """Where the jars of one Kafka version live (whether or not resolved yet)."""
    return cache_root / f"jars-{version}"


def is_complete(directory: Path) -> bool:
    """True when *directory* holds every jar its manifest lists (i.e. a finished resolution)."""
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        return False
    names = [n for n in manifest.read_text(encoding="utf-8").splitlines() if n.strip()]
    return bool(names) and all((directory / n).is_file() for n in names)


def classpath(directory: Path) -> str:
    """A ``java -cp`` wildcard entry for the cached jars."""
    return f"{directory}{os.sep}*"


def ensure_jars(
    pom: Path = POM_PATH,
    cache_root: Path = CACHE_ROOT,
    progress: Progress | None = stderr_progress,
) -> Path:
    """Return the cache directory for the pom's Kafka version, resolving it with Maven if needed.

    Cheap when the cache is complete (reads one manifest), so callers may call it on every start.
    """
    say = progress or (lambda _line: None)
    version = kafka_version(pom)
    target = jar_dir(version, cache_root)
    if is_complete(target):
        return target

    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarResolutionError("Maven (`mvn`) is not on PATH; it is needed once to fetch the Kafka jars")
    cache_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".jars-{version}-", dir=cache_root))
    try:
        say(f"resolving Kafka {version} jars with Maven into {target} (first run downloads ~40 MB)")
        started = time.monotonic()
        _run_maven(mvn, pom, scratch, say)
        jars = sorted(p.name for p in scratch.glob("*.jar"))
        if not any(n.startswith("kafka_") for n in jars):
            raise JarResolutionError(f"Maven resolved no kafka_<scala> jar from {pom}: {jars}")
        forbidden = [n for n in jars if _FORBIDDEN_JAR.match(n)]
        if forbidden:
            raise JarResolutionError(f"{forbidden} must stay off the broker classpath; exclude it in {pom}")
        (scratch / MANIFEST_NAME).write_text("\n".join(jars) + "\n", encoding="utf-8")
        if is_complete(target):  # another process finished first; keep its copy
            return target
        if target.exists():  # stale, incomplete leftover of an older layout
            shutil.rmtree(target)
        try:
            scratch.rename(target)
        except OSError:
            if not is_complete(target):
                raise
        say(f"resolved {len(jars)} jars in {time.monotonic() - started:.1f} s")
        return target
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def _run_maven(mvn: str, pom: Path, out_dir: Path, say: Progress) -> None:
    """Run ``dependency:copy-dependencies``, echoing one progress line per downloaded artifact."""
    cmd = [
        mvn,
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={out_dir}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=pom.parent,
    )
    assert proc.stdout is not None
    tail: list[str] = []
    downloads = 0
    for raw in proc.stdout:
        line = raw.rstrip()
        tail = [*tail[-39:], line]
        if "Downloaded from" in line and ".jar" in line:
            downloads += 1
            say(f"  downloaded {line.rsplit('/', 1)[-1].split(' ')[0]}")
    code = proc.wait()
    if code != 0:
        raise JarResolutionError(f"mvn exited {code}; last output:\n" + "\n".join(tail))
    if downloads:
        say(f"Maven downloaded {downloads} jars (the rest came from ~/.m2)")
