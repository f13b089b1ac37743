"""``hubdev.image`` (``make image``): the pure parts, without buildah. The build itself is opt-in."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hubdev import image
from hubdev.paths import REPO

EXPECTED: dict[str, Any] = {
    "as_of": "2026-03-31",
    "accepted": 3,
    "rejected": 1,
    "duplicates": 0,
    "regions": [
        {"region": "T01", "occupancy": 2, "restrictive_measures_12m": {"fixatie": 1}},
        {"region": "T02", "occupancy": 1, "perspective_in_time_rate": 0.5},
    ],
}


def test_equal_figures_in_another_key_order_with_extra_keys_pass() -> None:
    got = json.loads(json.dumps(EXPECTED, sort_keys=True))
    got["regions"][0]["not_in_the_spec"] = 7
    got["generated_at"] = "now"
    assert image.figure_differences(got, EXPECTED) == []


def test_a_changed_number_is_named() -> None:
    got = copy.deepcopy(EXPECTED)
    got["accepted"] = 4
    got["regions"][1]["perspective_in_time_rate"] = 0.51
    got["regions"][0]["restrictive_measures_12m"] = {"fixatie": 2}
    assert image.figure_differences(got, EXPECTED) == [
        "accepted: got 4, expected 3",
        "T01.restrictive_measures_12m: got {'fixatie': 2}, expected {'fixatie': 1}",
        "T02.perspective_in_time_rate: got 0.51, expected 0.5",
    ]


def test_missing_or_reordered_regions_are_named() -> None:
    got = copy.deepcopy(EXPECTED)
    got["regions"].reverse()
    assert image.figure_differences(got, EXPECTED) == ["regions: got ['T02', 'T01'], expected ['T01', 'T02']"]
    assert image.figure_differences({**EXPECTED, "regions": []}, EXPECTED) == [
        "regions: got [], expected ['T01', 'T02']"
    ]


def test_rejections_match_by_message_id_and_at_least_the_codes() -> None:
    expected: list[dict[str, Any]] = [
        {"message_id": "a", "codes": ["JH030"]},
        {"message_id": None, "codes": ["SCHEMA"]},
    ]
    got: list[dict[str, Any]] = [
        {"message_id": None, "errors": [{"code": "SCHEMA"}]},
        {"message_id": "a", "errors": [{"code": "JH030"}, {"code": "JH010"}]},
    ]
    assert image.rejection_differences(got, expected) == []
    assert image.rejection_differences(got[:1], expected) == [
        "1 rejections, expected 2",
        "no rejection of 'a' with ['JH030']",
    ]
    wrong_code = [got[0], {"message_id": "a", "errors": [{"code": "JH010"}]}]
    assert image.rejection_differences(wrong_code, expected) == ["no rejection of 'a' with ['JH030']"]


def test_every_deployment_runs_the_dockerfiles_entrypoint() -> None:
    commands = image.deployment_commands()
    assert sorted(args for _, args in commands.values()) == [["aggregate"], ["ingest"], ["validate"]]
    (entrypoint,) = re.findall(r"^ENTRYPOINT (.+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert {tuple(command) for command, _ in commands.values()} == {tuple(json.loads(entrypoint))}


def test_the_debian_base_is_the_dockerfiles_release_with_a_venv_python() -> None:
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert default.endswith(f"-{image.SUITE}")  # bookworm's python3 is the 3.11 of python:3.11-slim
    command = image.mmdebstrap_command(Path("/x/base.tar"))
    assert command[:3] == ["nice", "-n", "19"]
    assert "--include=python3,python3-venv,ca-certificates" in command
    assert f'--customize-hook=chroot "$1" python3 -m venv {image.VENV}' in command
    assert image.BASE_ENV["PATH"].startswith(f"{image.VENV}/bin:")  # `python -m pip` is the venv's


def test_the_build_uses_chroot_isolation_the_base_and_the_hosts_ca_read_only(tmp_path: Path) -> None:
    pip_conf = tmp_path / "pip.conf"
    command = image.build_command("localhost/base:x", pip_conf)
    joined = " ".join(command)
    assert "buildah build --isolation chroot --layers" in joined
    assert "--build-arg PYTHON_IMAGE=localhost/base:x" in joined
    assert "--volume /etc/ssl/certs:/etc/ssl/certs:ro" in joined
    assert f"--volume {pip_conf}:/etc/pip.conf:ro" in joined
    assert command[-1] == str(REPO) and "PYTHON_IMAGE" not in " ".join(image.build_command(None, pip_conf))


def test_the_base_key_changes_with_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    key = image.base_key()
    assert re.fullmatch(r"[0-9a-f]{12}", key) and image.base_key() == key
    assert image.base_image_name().endswith(f":{image.SUITE}-{key}")
    assert image.base_tarball(Path("/c")) == Path(f"/c/base-{image.SUITE}-{key}.tar")
    monkeypatch.setattr(image, "BASE_PACKAGES", (*image.BASE_PACKAGES, "curl"))
    assert image.base_key() != key
