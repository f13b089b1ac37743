"""The keyring's precomputed HMAC pads give exactly ``hmac.new(key, data, sha256)``."""

from __future__ import annotations

import hashlib
import hmac
import random

from services.privacy.pseudonym import Keyring, pseudonymise


def test_hmac_hex_equals_the_standard_library_for_every_key_length() -> None:
    rng = random.Random(3)
    for length in (32, 33, 63, 64, 65, 100, 128, 200):
        secret = rng.randbytes(length)
        keyring = Keyring("k", {"k": secret, "old": rng.randbytes(48)})
        for _ in range(50):
            data = rng.randbytes(rng.randrange(0, 150))
            assert keyring.hmac_hex(data) == hmac.new(secret, data, hashlib.sha256).hexdigest()
        bsn = "123456782"
        assert pseudonymise(bsn, keyring) == (hmac.new(secret, bsn.encode(), hashlib.sha256).hexdigest(), "k")
        assert keyring.hmac_hex(b"x", "old") != keyring.hmac_hex(b"x")
