"""``jeugdhub run`` keeps its default ports across a restart and names who holds a taken one
(issue 13, item 2).

Before, the free-port check bound without ``SO_REUSEADDR``: a stopped hub's connections in
TIME_WAIT made its ports look taken, and a restart within a minute moved Kafka and ingest to random
ports without a word.
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from pathlib import Path

import pytest

from hubdev.localkafka.broker import free_port, port_is_free
from hubdev.run.orchestrate import wanted_ports
from hubdev.run.ports import DEFAULT_PORTS, PortInUse, choose, holder

TIME_WAIT = "06"


def _time_wait_on(port: int) -> bool:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == TIME_WAIT and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def _server_closes_first(port: int) -> None:
    """A server on *port* that answers one connection and closes it first, then stops: the
    server's side of that connection stays in TIME_WAIT on *port* (as after a hub's restart)."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server closes first …
        time.sleep(0.05)
        client.close()  # … and once the client's FIN arrives, the server side is in TIME_WAIT
        time.sleep(0.05)


def test_a_port_whose_connections_linger_in_time_wait_counts_as_free() -> None:
    port = free_port()
    _server_closes_first(port)
    assert _time_wait_on(port), "the test needs a TIME_WAIT socket on the port"
    assert port_is_free(port)
    assert choose({"ingest": port}, any_free=False) == {"ingest": port}


def test_a_port_someone_listens_on_stops_run_with_one_line_naming_port_holder_and_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert holder(port) is not None and holder(port).startswith(f"pid {os.getpid()} (")  # type: ignore[union-attr]
        with pytest.raises(PortInUse) as caught:
            choose({"validate": free_port(), "ingest": port}, any_free=False)
    message = str(caught.value)
    assert "\n" not in message
    assert f"port {port} (ingest)" in message and f"pid {os.getpid()}" in message
    assert "--free-ports" in message


def test_free_ports_gives_distinct_free_ports_and_no_holder_for_a_free_port() -> None:
    chosen = choose(DEFAULT_PORTS, any_free=True)
    assert set(chosen) == set(DEFAULT_PORTS) and len(set(chosen.values())) == len(chosen)
    assert holder(free_port()) is None


def test_port_options_replace_one_default_each() -> None:
    args = argparse.Namespace(port=["ingest=18080", "kafka=19092"])
    assert wanted_ports(args) == {**DEFAULT_PORTS, "ingest": 18080, "kafka": 19092}
    for bad in ("ingest", "nope=1", "ingest=x", "ingest=70000"):
        with pytest.raises(ValueError, match="--port"):
            wanted_ports(argparse.Namespace(port=[bad]))


def test_a_kafka_holder_is_named_as_such_not_by_kilobytes_of_jvm_options(tmp_path: Path) -> None:
    from hubdev.run.ports import _command

    argv = [
        "/usr/lib/jvm/bin/java",
        "-Xmx384m",
        *[f"-Dopt{i}=x" for i in range(50)],
        "kafka.Kafka",
        "s.properties",
    ]
    (tmp_path / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    assert _command(tmp_path) == "java … kafka.Kafka s.properties"
