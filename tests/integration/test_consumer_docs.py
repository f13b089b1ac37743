"""docs/consumers.md holds: another party decodes our topics with nothing but the ``.avsc`` files.

The page's Python blocks run as written (only the broker address and topic name replaced) on records
the hub's codec encoded and on the real broker; a Java program using Apache Avro's own
``BinaryMessageDecoder`` (tests/java/avro-consumer) is compiled with the JDK and decodes the same
records: a second Avro implementation agreeing with ours, field by field.

Avro's jars are resolved with Maven once into ``deploy/local/cache/avro-<version>/`` (git-ignored,
created whole like the broker's jars) and used offline after that.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hubdev.localkafka.jars import CACHE_ROOT, MANIFEST_NAME, is_complete
from services.contracts.canonical import record_from_json, record_to_json
from services.contracts.codec import encode
from services.contracts.schemas import registry, schema_dir
from services.contracts.topics import AGGREGATES
from tests.integration.test_figures_command import Writer, exact_row

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "consumers.md"
JAVA_PROJECT = REPO / "tests" / "java" / "avro-consumer"
JAVA_SOURCE = JAVA_PROJECT / "src" / "main" / "java" / "nl" / "jeugdhub" / "consumer" / "DecodeRecords.java"
JAVA_MAIN = "nl.jeugdhub.consumer.DecodeRecords"


def checked_block(name: str) -> str:
    """The code block of docs/consumers.md marked ``<!-- checked: name -->``."""
    found = re.search(rf"<!-- checked: {re.escape(name)} -->\n```\w+\n(.*?)\n```", DOC.read_text(), re.S)
    assert found, f"docs/consumers.md has no block marked 'checked: {name}'"
    return found.group(1)


def avro_ready(name: str, row: dict[str, Any]) -> dict[str, Any]:
    """The Avro-ready record of a JSON row (dates as date, timestamps as aware datetime)."""
    if name == "DailyRegionFigures":  # a RegionSnapshot's fields plus written_late
        snapshot = {k: v for k, v in row.items() if k != "written_late"}
        return {**record_from_json("RegionSnapshot", snapshot), "written_late": row["written_late"]}
    return record_from_json(name, row)


def sample_rows() -> dict[str, dict[str, Any]]:
    """One record of each regulator type, with nulls, an array, a boolean and a nested record."""
    exact = exact_row("VB01", "2026-06-30", 10)
    public = {
        **exact_row("NL", "2026-06-30", 1230),
        "occupancy_residential": None,
        "median_length_of_stay_days_12m": None,
        "restrictive_measures_12m": {
            "afzondering": None,
            "separatie": 20,
            "fixatie": 0,
            "insluiting_eigen_kamer": 5,
        },
        "suppressed": [
            "occupancy_residential",
            "median_length_of_stay_days_12m",
            "restrictive_measures_12m.afzondering",
        ],
    }
    daily = {**exact_row("VB02", "2026-06-29", 40), "perspective_in_time_rate": None, "written_late": True}
    return {"RegionSnapshot": exact, "PublicRegionSnapshot": public, "DailyRegionFigures": daily}


@pytest.fixture
def docs_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The python-decode block, run in a directory holding nothing but a copy of the .avsc files."""
    shutil.copytree(schema_dir(), tmp_path / "schemas" / "avro")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "consumers_doc"}
    exec(compile(checked_block("python-decode"), "docs/consumers.md:python-decode", "exec"), namespace)
    return namespace


def test_python_block_decodes_what_the_hub_encodes(docs_namespace: dict[str, Any]) -> None:
    contract_record: Callable[[str], tuple[Any, bytes]] = docs_namespace["contract_record"]
    decode: Callable[[bytes, Any, bytes], dict[str, Any]] = docs_namespace["decode"]
    values = {}
    for name, row in sample_rows().items():
        record = avro_ready(name, row)
        values[name] = encode(name, record)
        schema, fingerprint = contract_record(name)
        assert fingerprint == registry().record(name).fingerprint
        assert decode(values[name], schema, fingerprint) == record

    schema, fingerprint = contract_record("RegionSnapshot")
    with pytest.raises(ValueError, match="written with another schema"):
        decode(values["DailyRegionFigures"], schema, fingerprint)
    with pytest.raises(ValueError, match="not Avro single-object encoded"):
        decode(b"\x00\x01" + values["RegionSnapshot"][2:], schema, fingerprint)
    with pytest.raises(ValueError, match="trailing bytes"):
        decode(values["RegionSnapshot"] + b"\x00", schema, fingerprint)


def test_python_kafka_block_reads_the_committed_figures(
    docs_namespace: dict[str, Any],
    kafka_bootstrap: str,
    unique_prefix: str,
    create_topics: Callable[..., None],
) -> None:
    topic = AGGREGATES.full_name(unique_prefix)
    create_topics([topic], partitions=AGGREGATES.partitions, config=AGGREGATES.config())
    first = {r: exact_row(r, "2026-06-29", n) for r, n in (("VB01", 1), ("VB02", 2), ("NL", 3))}
    newer = exact_row("VB02", "2026-06-30", 7)
    writer = Writer(kafka_bootstrap)
    try:
        writer.transaction(
            topic,
            [(r, encode("RegionSnapshot", avro_ready("RegionSnapshot", row))) for r, row in first.items()],
        )
        aborted = exact_row("VB01", "2026-06-30", 999)
        writer.transaction(
            topic, [("VB01", encode("RegionSnapshot", avro_ready("RegionSnapshot", aborted)))], commit=False
        )
        writer.transaction(topic, [("VB02", encode("RegionSnapshot", avro_ready("RegionSnapshot", newer)))])
    finally:
        writer.close()

    block = checked_block("python-kafka")
    block, replaced = re.subn(r'^BOOTSTRAP = ".*"$', f"BOOTSTRAP = {kafka_bootstrap!r}", block, flags=re.M)
    block, also = re.subn(r'^TOPIC = ".*"$', f"TOPIC = {topic!r}", block, flags=re.M)
    assert replaced == also == 1
    exec(compile(block, "docs/consumers.md:python-kafka", "exec"), docs_namespace)

    expected = {**first, "VB02": newer}
    assert docs_namespace["latest"] == {r: avro_ready("RegionSnapshot", row) for r, row in expected.items()}


# --- Java: Apache Avro's BinaryMessageDecoder ------------------------------------------------------


def avro_version() -> str:
    node = (
        ET.parse(JAVA_PROJECT / "pom.xml")
        .getroot()
        .find("m:properties/m:avro.version", {"m": "http://maven.apache.org/POM/4.0.0"})
    )
    assert node is not None and node.text, "tests/java/avro-consumer/pom.xml has no <avro.version>"
    return node.text.strip()


def avro_jars() -> Path:
    """``deploy/local/cache/avro-<version>/``: Avro and its dependencies, resolved by Maven once."""
    version = avro_version()
    target = CACHE_ROOT / f"avro-{version}"
    if is_complete(target):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        pytest.skip(
            "Maven (`mvn`) is not on PATH; it is needed once to fetch Apache Avro (apt-get install maven)"
        )
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".avro-{version}-", dir=CACHE_ROOT))
    try:
        out = subprocess.run(
            [mvn, "-B", "-q", "-f", str(JAVA_PROJECT / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={scratch}", "-DincludeScope=runtime"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, f"mvn exited {out.returncode}:\n{out.stdout[-3000:]}{out.stderr[-2000:]}"
        jars = sorted(p.name for p in scratch.glob("*.jar"))
        assert f"avro-{version}.jar" in jars, jars
        (scratch / MANIFEST_NAME).write_text("\n".join(jars) + "\n", encoding="utf-8")
        if not is_complete(target):  # another run may have finished first; keep its copy then
            if target.exists():
                shutil.rmtree(target)
            scratch.rename(target)
        return target
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def java_decoder(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs DecodeRecords (compiled once per test run) as ``decoder(record_full_name, *files)``."""
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        pytest.skip(
            "a JDK (`javac`, `java`) is needed for the Java consumer check: apt-get install openjdk-17-jdk-headless"
        )
    classpath = f"{avro_jars()}/*"
    classes = tmp_path_factory.mktemp("java-classes")
    compiled = subprocess.run(
        [javac, "-d", str(classes), "-cp", classpath, str(JAVA_SOURCE)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=120,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr

    def run(record: str, *files: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [java, "-cp", f"{classes}:{classpath}", JAVA_MAIN, str(schema_dir()), record, *map(str, files)],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=60,
        )  # fmt: skip

    return run


def test_java_avro_decodes_our_records_field_by_field(
    java_decoder: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    for name, row in sample_rows().items():
        record = avro_ready(name, row)
        value = tmp_path / f"{name}.bin"
        value.write_bytes(encode(name, record))
        done = java_decoder(f"nl.jeugdhub.v1.{name}", value, value)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 2
        printed = json.loads(lines[0])
        ours = record_to_json(name, record)  # dates YYYY-MM-DD, timestamps ...Z, nulls kept
        assert list(printed) == list(ours)  # every field, in the schema's order
        for field, expected in ours.items():
            assert printed[field] == expected, field
        assert f"header bytes {registry().record(name).fingerprint.hex()}" in done.stderr


def test_java_avro_refuses_another_record_type_and_a_bad_header(
    java_decoder: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    rows = sample_rows()
    daily = tmp_path / "daily.bin"
    daily.write_bytes(
        encode("DailyRegionFigures", avro_ready("DailyRegionFigures", rows["DailyRegionFigures"]))
    )
    other = java_decoder("nl.jeugdhub.v1.RegionSnapshot", daily)
    assert other.returncode == 1
    assert "MissingSchemaException" in other.stderr, other.stderr

    snapshot = encode("RegionSnapshot", avro_ready("RegionSnapshot", rows["RegionSnapshot"]))
    marker = tmp_path / "marker.bin"
    marker.write_bytes(b"\xc3\x02" + snapshot[2:])
    bad = java_decoder("nl.jeugdhub.v1.RegionSnapshot", marker)
    assert bad.returncode == 1
    assert "BadHeaderException" in bad.stderr, bad.stderr

    unknown = tmp_path / "unknown.bin"
    unknown.write_bytes(snapshot[:2] + bytes(8) + snapshot[10:])
    missing = java_decoder("nl.jeugdhub.v1.RegionSnapshot", unknown)
    assert missing.returncode == 1
    assert "MissingSchemaException" in missing.stderr, missing.stderr


def test_the_java_excerpt_in_the_docs_is_the_program() -> None:
    """Each line of the page's Java block is in DecodeRecords.java, in the same order."""
    source = [line.strip() for line in JAVA_SOURCE.read_text().splitlines()]
    position = 0
    for line in (text.strip() for text in checked_block("java-excerpt").splitlines()):
        if not line:
            continue
        assert line in source[position:], f"not in {JAVA_SOURCE.name} after line {position}: {line}"
        position = source.index(line, position) + 1


def test_the_fingerprints_in_the_docs_are_the_contracts() -> None:
    table = dict(re.findall(r"^\| `(\w+)` \| `([0-9a-f]{16})` \|$", DOC.read_text(), re.M))
    assert set(table) == {"RegionSnapshot", "PublicRegionSnapshot", "DailyRegionFigures"}
    for name, shown in table.items():
        assert shown == registry().record(name).fingerprint.hex(), name
