"""No alarming noise for a newcomer (issue 13, item 9): the licence is an SPDX expression (no
setuptools deprecation warning per install), and kafka-python's deprecation warnings, which we
cannot fix, are filtered in pyproject's pytest settings while our own stay visible."""

from __future__ import annotations

import importlib.resources
import tomllib
import warnings
from pathlib import Path

from kafka.protocol.schemas.load_json import load_json

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text("utf-8"))


def test_licence_is_an_spdx_expression_for_a_setuptools_that_reads_it() -> None:
    assert PYPROJECT["project"]["license"] == "EUPL-1.2"
    assert "setuptools>=77" in [r.split(" ")[0] for r in PYPROJECT["build-system"]["requires"]]


def test_kafka_python_schema_loading_does_not_warn_but_our_code_would() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", append=True)  # after pyproject's filters, as pytest set them
        load_json("ApiVersionsRequest")
        assert [str(w.message) for w in caught] == []
        importlib.resources.read_text("services.contracts", "__init__.py")  # ours: still reported
    assert any("read_text is deprecated" in str(w.message) for w in caught)
