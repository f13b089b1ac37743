"""Production code only in the production package (issue 14, item 1): nothing under ``services/``
imports the development tools in ``hubdev/``, and the image's build context holds no ``hubdev``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEV_PACKAGE = "hubdev"
GUARDED_DYNAMIC_IMPORT = Path("services/cli.py")
"""The one place allowed to name hubdev: ``register_development_commands``, skipped without it."""


def _is_dev_module(name: str | None) -> bool:
    return name is not None and (name == DEV_PACKAGE or name.startswith(DEV_PACKAGE + "."))


def _dev_imports(text: str, label: str) -> list[str]:
    """``import hubdev...`` / ``from hubdev... import`` anywhere in *text* (functions included), and
    string constants naming a hubdev module (``importlib.import_module("hubdev.x")``)."""
    found = []
    for node in ast.walk(ast.parse(text, label)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _is_dev_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_dev_module(node.module):
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _is_dev_module(node.value):
            found.append(f"string {node.value!r}")
    return [f"{label}: {hit}" for hit in found]


def _module_imports(path: Path) -> list[str]:
    return _dev_imports(path.read_text("utf-8"), path.relative_to(REPO).as_posix())


def test_no_module_under_services_imports_hubdev() -> None:
    modules = sorted((REPO / "services").rglob("*.py"))
    assert len(modules) > 50  # the walk saw the package, not an empty directory
    offences = [
        hit
        for path in modules
        if path.relative_to(REPO) != GUARDED_DYNAMIC_IMPORT
        for hit in _module_imports(path)
    ]
    assert offences == []
    # the CLI names hubdev only in strings (the guarded lookup), never in an import statement
    assert _module_imports(REPO / GUARDED_DYNAMIC_IMPORT) == [
        "services/cli.py: string 'hubdev.commands'",
        "services/cli.py: string 'hubdev'",
    ]


def test_the_scan_sees_an_import_hidden_in_a_function() -> None:
    text = "def f():\n    from hubdev.localkafka.admin import admin_client\n    import hubdev, json\n"
    assert _dev_imports(text, "m.py") == [
        "m.py: from hubdev.localkafka.admin import ...",
        "m.py: import hubdev",
    ]
    assert _dev_imports("from services.hubdevices import x\nimport hubdevx\n", "m.py") == []


# -- the image ---------------------------------------------------------------------------------


def _dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(include?, pattern) in file order; the last rule that matches a path or a parent decides."""
    rules = []
    for raw in (REPO / ".dockerignore").read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = "".join(
            ".*" if part == "**" else "[^/]*" if part == "*" else "[^/]" if part == "?" else re.escape(part)
            for part in re.split(r"(\*\*|\*|\?)", pattern)
        )
        rules.append((include, re.compile(regex + "$")))
    return rules


def _in_build_context(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    decision = True
    for include, regex in rules:
        if any(regex.match(p) for p in prefixes):
            decision = include
    return decision


def test_the_docker_build_context_holds_no_hubdev_code() -> None:
    rules = _dockerignore_rules()
    files = [p.relative_to(REPO).as_posix() for p in REPO.rglob("*.py") if ".venv" not in p.parts]
    context = {f for f in files if _in_build_context(f, rules)}
    assert "services/cli.py" in context and "services/streaming/topic_admin.py" in context
    assert any(f.startswith("hubdev/") for f in files)
    assert sorted(f for f in context if f.startswith("hubdev/")) == []
    assert {f.split("/")[0] for f in context} <= {"services"}  # no tests, bench or scripts either


def test_the_dockerfile_copies_no_hubdev_code() -> None:
    sources = []
    for line in (REPO / "Dockerfile").read_text("utf-8").splitlines():
        words = line.split()
        if words and words[0] in ("COPY", "ADD"):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    assert sources, "no COPY in the Dockerfile?"
    assert all(DEV_PACKAGE not in s and s not in (".", "./", "*") for s in sources), sources


def _services_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("services.")}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("services.")
        ):
            names.add(str(node.module))
    return names


def test_the_simulator_and_the_test_input_depend_on_the_contract_not_on_the_steps() -> None:
    """``hubdev/simulate`` and ``hubdev/records.py`` build messages and raw records from
    ``services.contracts``; the only step they touch is ingest's token store (``jeugdhub tokens``'
    file, where the simulated senders' tokens are registered), never validate's or aggregate's code.
    ``services.compiled.mypyc_build`` is allowed: the one mypyc compile-and-load both builds share,
    no processing step."""
    paths = [*sorted((REPO / "hubdev" / "simulate").glob("*.py")), REPO / "hubdev" / "records.py"]
    used = set().union(*(_services_imports(p) for p in paths))
    allowed_prefixes = (
        "services.contracts.",
        "services.settings",
        "services.output",
        "services.cli",
        "services.compiled.mypyc_build",
    )
    assert {m for m in used if not m.startswith(allowed_prefixes)} <= {"services.ingest.tokens"}
    assert "services.contracts.bsn" in used and "services.contracts.codec" in used
