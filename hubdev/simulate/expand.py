"""Test and benchmark input: the worked example feed expanded into many disjoint youth.

Used by the integration tests and by ``bench/`` so that a benchmark input is the kind of input the
tests check for correctness (same seed, same output).
"""

from __future__ import annotations

import json
import random
import uuid

import orjson

from services.validate.bsn import is_valid_bsn


def valid_bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the 11-proef."""
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True))
        last = total % 11
        if last < 10:
            return "".join(map(str, [*digits, last]))


def expand_feed(lines: list[bytes], copies: int, seed: int) -> list[bytes]:
    """``copies`` disjoint copies of a feed (new youth, ids and references), shuffled.

    Each copy keeps every quirk of the original (duplicates, conflicting re-sends, cancels, rule
    breaks); only valid BSNs are replaced, so invalid ones stay invalid.
    """
    rng = random.Random(seed)
    out: list[bytes] = []
    for copy in range(copies):
        namespace = uuid.UUID(int=rng.getrandbits(128))
        bsn_map: dict[str, str] = {}
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            if not isinstance(message, dict):
                out.append(line)
                continue
            for key in ("message_id", "cancels_message_id"):
                if isinstance(message.get(key), str):
                    message[key] = str(uuid.uuid5(namespace, message[key]))
            bsn = message.get("bsn")
            if isinstance(bsn, str) and is_valid_bsn(bsn):
                message["bsn"] = bsn_map.setdefault(bsn, valid_bsn(rng))
            for key in ("placement_id", "from_placement_id", "to_placement_id", "measure_id"):
                if isinstance(message.get(key), str) and len(message[key]) <= 32:
                    message[key] = f"{message[key]}c{copy}"
            out.append(orjson.dumps(message))
    rng.shuffle(out)
    return out
