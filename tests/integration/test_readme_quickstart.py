"""The README's quick-start, as written, against the hub ``jeugdhub run`` starts; then a second run
of the same hub (issue 13, items 1, 2, 3 and 6).

The README's block (``tokens add``, a message file, ``curl`` POST, ``curl`` GET of the retour) is
read from README.md and run by bash from a directory laid out like a checkout (``.venv`` linked in),
so the example can never silently stop working again: it got 401 because ``tokens add`` and ``run``
used different token files. Only the port is changed: 8080 becomes the port this test gave ingest.

One hub serves every assertion, to keep CI short: the quick-start against the first run; then the
first run is stopped with SIGTERM and a second started on the same ports, state dir, Kafka and topic
prefix. That one must get the same ports back (the stopped hub's connections linger in TIME_WAIT),
continue the feed instead of posting it again, and register no new tokens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from hubdev.localkafka.broker import free_port, set_parent_death_signal
from hubdev.processes import JEUGDHUB
from hubdev.simulate.output import read_token_map
from hubdev.simulate.position import read_position
from services.ingest.tokens import read_token_file

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
README_PORT = "http://127.0.0.1:8080"
RATE = 100
WINDOW = RATE
"""The simulator posts (and records its position) a window of ``min(rate, 4,000)`` lines at a time."""


def readme_block() -> str:
    """The README's ``sh`` block that adds a token and sends a message."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```sh\n(.*?)```", text, re.S)
    matching = [b for b in blocks if "tokens add" in b and "/v1/messages" in b and "/v1/retour" in b]
    assert len(matching) == 1, "the README's token + curl example is gone or doubled"
    return matching[0]


def _json_documents(text: str) -> list[Any]:
    """The JSON documents printed one after another (``curl`` adds no newline after a body)."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        document, at = decoder.raw_decode(text, at)
        documents.append(document)
    return documents


def _posted(path: Path) -> int:
    position = read_position(path)
    return position.lines if position is not None else 0


def _time_wait_on(port: int) -> bool:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "06" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


class Run:
    """``jeugdhub run --no-view`` in the checkout, its output in a file."""

    def __init__(self, cwd: Path, args: list[str], out: Path) -> None:
        self.out_path = out
        env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
        with out.open("wb") as handle:
            self.proc = subprocess.Popen(
                [JEUGDHUB, "run", "--no-view", *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=set_parent_death_signal,
            )

    @property
    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            match = re.search(pattern, self.output)
            if match:
                return match
            assert self.proc.poll() is None, f"run exited with {self.proc.returncode}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {pattern!r} after {timeout_s} s:\n{self.output}"
            time.sleep(0.2)

    def ports(self) -> dict[str, int]:
        found = re.findall(
            r"(ingest|validate|aggregate)\s+ready: http://127\.0\.0\.1:(\d+)/metrics", self.output
        )
        return {name: int(port) for name, port in found}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(120) == 0, self.output

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Hub:
    checkout: Path
    args: list[str]
    ports: dict[str, int]
    state_dir: Path
    first: Run


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Hub]:
    """The first ``jeugdhub run``, started in a directory laid out like a checkout."""
    assert shutil.which("curl"), "the README's example needs curl"
    root = tmp_path_factory.mktemp("readme")
    checkout = root / "jeugdhub"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(REPO / ".venv")
    ports = {"ingest": free_port(), "validate": free_port(), "aggregate": free_port()}
    while len(set(ports.values())) < 3:
        ports["aggregate"] = free_port()
    prefix = f"it{os.urandom(5).hex()}."
    state_dir = checkout / "var" / "run"
    args = [
        "--kafka-bootstrap",
        kafka_bootstrap,
        "--topic-prefix",
        prefix,
        "--rate",
        str(RATE),
        "--duration",
        "300",
    ]
    args += [f"--port={name}={port}" for name, port in ports.items()]
    first = Run(checkout, args, root / "run-1.out")
    try:
        yield Hub(checkout, args, ports, state_dir, first)
    finally:
        first.kill()


def test_readme_quickstart_token_post_and_retour_work_against_run(hub: Hub) -> None:
    hub.first.wait_for(r"simulator posting", 240)
    assert hub.first.ports() == hub.ports
    url = f"http://127.0.0.1:{hub.ports['ingest']}"
    assert f"ingest API: {url}/v1/messages" in hub.first.output
    assert f"API tokens: {hub.checkout / 'var' / 'ingest-tokens.json'}" in hub.first.output

    block = readme_block().replace(README_PORT, url)
    assert README_PORT not in block
    script = block + '\nprintf "\\nREADME-TOKEN %s\\n" "$T"\n'
    done = subprocess.run(
        ["bash", "-c", script], cwd=hub.checkout, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    message_id = orjson.loads((hub.checkout / "message.json").read_bytes())["message_id"]
    documents = _json_documents(out.split("README-TOKEN")[0])  # curl ends its output without a newline
    assert len(documents) == 2, out
    posted, retour = documents
    assert posted["message_id"] == message_id and posted["received"] is True, out

    # The retour: the README's last line, asked again until validate has answered (a few seconds).
    token = re.search(r"README-TOKEN (\S+)", out)
    assert token is not None, out
    last_line = [line for line in block.splitlines() if "/v1/retour" in line][-1]
    deadline = time.monotonic() + 30
    while not any(r["message_id"] == message_id for r in retour["retours"]):
        assert time.monotonic() < deadline, retour
        time.sleep(1)
        again = subprocess.run(
            ["bash", "-c", last_line],
            cwd=hub.checkout,
            env={**os.environ, "T": token.group(1)},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        retour = orjson.loads(again.stdout)
    (mine,) = [r for r in retour["retours"] if r["message_id"] == message_id]
    assert mine["status"] == "accepted", mine


def regulator_hub_block() -> str:
    """The README's ``sh`` block of regulator commands against a running hub."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```sh\n(.*?)```", text, re.S)
    matching = [b for b in blocks if "jeugdhub figures" in b and "history --from-topic" in b]
    assert len(matching) == 1, "the README's regulator example against a running hub is gone or doubled"
    return matching[0]


def test_readme_regulator_commands_read_the_running_hub(hub: Hub) -> None:
    """``figures``, ``figures --public`` and ``history --from-topic`` as written, against the hub
    ``jeugdhub run`` started (its Kafka and topic prefix given by the two variables the README names)."""
    hub.first.wait_for(r"simulator posting", 240)
    prefix = hub.args[hub.args.index("--topic-prefix") + 1]
    bootstrap = hub.args[hub.args.index("--kafka-bootstrap") + 1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    env |= {"JEUGDHUB_KAFKA_BOOTSTRAP": bootstrap, "JEUGDHUB_TOPIC_PREFIX": prefix}
    lines = [line for line in regulator_hub_block().splitlines() if line.strip()]
    assert len(lines) == 3, lines

    def run(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line],
            cwd=hub.checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # The aggregate publishes its first snapshots once it has read the simulated feed's start.
    deadline = time.monotonic() + 120
    while True:
        table = run(lines[0])
        if table.returncode == 0 and re.search(r"^\s*NL\b", table.stdout, re.M):
            break
        assert time.monotonic() < deadline, table.stdout + table.stderr
        time.sleep(2)
    regions = set(re.findall(r"^\s*(VB\d\d)\b", table.stdout, re.M))
    assert len(regions) == 6, table.stdout

    public = run(lines[1])
    assert public.returncode == 0, public.stderr
    objects = [json.loads(line) for line in public.stdout.splitlines()]
    assert {o["region"] for o in objects} == regions | {"NL"}
    for obj in objects:
        assert isinstance(obj["suppressed"], list)
        counts = [obj["occupancy"], obj["transfers_12m"], *obj["restrictive_measures_12m"].values()]
        assert all(c is None or ((c == 0 or c >= 5) and c % 5 == 0) for c in counts), obj

    history = run(lines[2])
    assert history.returncode == 0, history.stderr
    written = (hub.checkout / "history-topic.csv").read_text(encoding="utf-8").splitlines()
    assert written[0].startswith("as_of,region,occupancy,")
    assert len(written) - 1 == 52 * 7  # the Sundays of 2026, six regions and NL


def test_a_second_run_gets_the_same_ports_continues_the_feed_and_adds_no_tokens(hub: Hub) -> None:
    first = hub.first
    first.wait_for(r"simulator posting", 240)
    position_file = hub.state_dir / "simulator.json"
    deadline = time.monotonic() + 60
    while _posted(position_file) < 200:
        assert time.monotonic() < deadline, first.output
        time.sleep(0.5)
    tokens_file = hub.checkout / "var" / "ingest-tokens.json"
    first.stop()
    lingering = {name: _time_wait_on(port) for name, port in hub.ports.items()}
    print(f"ports with connections in TIME_WAIT after the first run stopped: {lingering}")
    before = read_position(position_file)
    assert before is not None and not before.complete
    tokens_before = read_token_file(tokens_file)
    simulated = read_token_map(hub.state_dir / "simulator-tokens.json")
    assert len(tokens_before) <= len(simulated) + 1  # the README's token, if it ran first

    second = Run(hub.checkout, hub.args, hub.checkout.parent / "run-2.out")
    try:
        second.wait_for(r"simulator posting", 240)
        assert second.ports() == hub.ports, second.output  # the same ports again, right after a stop
        assert f"after line {before.lines:,}" in second.output, second.output
        deadline = time.monotonic() + 60
        while _posted(position_file) <= before.lines + 3 * WINDOW:
            assert time.monotonic() < deadline, second.output
            time.sleep(0.5)
        second.wait_for(r"this run: accepted [1-9]", 60)
        assert read_token_file(tokens_file) == tokens_before  # the simulated senders' tokens reused
        assert "all duplicates" not in second.output, second.output
    finally:
        second.stop()
        second.kill()
    status = re.findall(r"this run: accepted ([\d,]+) rejected [\d,]+ duplicates ([\d,]+)", second.output)
    accepted, duplicates = (int(n.replace(",", "")) for n in status[-1])
    # Not a re-post of the same feed (that made every message a duplicate): at most the window that
    # was in flight when the first run stopped (rate 100: 100 lines) and the feed's own re-sends.
    assert accepted > duplicates and duplicates <= WINDOW + accepted // 20, second.output
