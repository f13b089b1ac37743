"""The ports of ``jeugdhub run``: the defaults unless ``--free-ports``, and who holds a taken one.

A default port is the default: a restart gets it again (the check binds with ``SO_REUSEADDR``, so a
stopped hub's connections in TIME_WAIT do not count), and when something really listens on it,
``run`` stops with one line naming the port and, where Linux lets us see it, the process holding it,
instead of moving to another port without a word.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hubdev.localkafka.broker import free_port, port_is_free

DEFAULT_PORTS: dict[str, int] = {
    "ingest": 8080,
    "validate": 6066,
    "aggregate": 6067,
    "kafka": 9092,
    "kafka-controller": 9093,
}
"""What ``run`` binds without ``--free-ports`` (``--port NAME=PORT`` changes one)."""

_LISTEN = "0A"
"""The TCP_LISTEN state in /proc/net/tcp."""


class PortInUse(RuntimeError):
    """A port ``run`` must use is taken; the message is the one line the operator sees."""


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """``pid N (command line)`` of a process listening on *port*, or None if not visible.

    Best effort from /proc/net/tcp{,6} and /proc/*/fd (Linux): processes of other users hide their
    descriptors, and then only "another user's process" can be said.
    """
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in targets:
                    return f"pid {entry.name} ({_command(entry)})"
            except OSError:
                continue
    return "a process of another user"


def _command(entry: Path, limit: int = 80) -> str:
    try:
        argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except OSError:
        return "?"
    parts = [arg.decode(errors="replace") for arg in argv]
    parts[0] = Path(parts[0]).name  # the program's name, not its path
    if "kafka.Kafka" in parts:  # a JVM's command line is kilobytes of options: name the broker
        parts = [parts[0], "…", "kafka.Kafka", *parts[parts.index("kafka.Kafka") + 1 :]]
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def in_use_message(name: str, port: int) -> str:
    who = holder(port)
    by = f" by {who}" if who else ""
    return f"port {port} ({name}) on 127.0.0.1 is in use{by}; stop it, or use --free-ports"


def choose(wanted: Mapping[str, int], any_free: bool) -> dict[str, int]:
    """The port for each name: a free one with *any_free*, else exactly the wanted one.

    Raises :class:`PortInUse` naming the first wanted port that is taken (and its holder).
    """
    if any_free:
        chosen: dict[str, int] = {}
        for name in wanted:
            port = free_port()
            while port in chosen.values():
                port = free_port()
            chosen[name] = port
        return chosen
    for name, port in wanted.items():
        if port != 0 and not port_is_free(port):
            raise PortInUse(in_use_message(name, port))
    return {name: port if port != 0 else free_port() for name, port in wanted.items()}
