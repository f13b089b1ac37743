"""``jeugdhub report``'s page opened in a real browser: Debian's Chromium, headless, driven by selenium
through Debian's chromedriver.

The page is made from the worked example (exact and public form), opened as a file:// URL with the
network closed off, and must load nothing from anywhere (no resource entries at all), log no console
error, lay out a chart per figure per region (every marker reference resolving), and show the
met / not met table per region. Screenshots are kept in the test's temporary folder (pytest keeps the
last three runs' folders; the path is printed).

Needs ``chromium`` and ``chromedriver`` on PATH (``scripts/bootstrap.sh --tests`` installs Debian's
packages as root); without them the test skips and says so.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import JEUGDHUB
from services.regulator.report import CHART_FIGURES
from services.regulator.targets import TARGETS

EXAMPLES = SPEC_EXAMPLES
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
REGIONS = ("T01", "T02", "T03", "T04", "T05", "NL")

pytestmark = [
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"worked example not found at {EXAMPLES}"),
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="the report's browser test needs Debian's chromium and chromium-driver on PATH "
        "(apt-get install chromium chromium-driver; scripts/bootstrap.sh --tests installs them as root)",
    ),
]

# The network is closed here: without these Chromium waits on lookups (updates, sync, QUIC).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The worked example's report by month over a year, exact and public, as a user makes them:
    two ``jeugdhub report`` processes side by side (drawing the charts takes most of the time, and
    each takes a core)."""
    folder = tmp_path_factory.mktemp("report")
    out = {form: folder / f"report-{form}.html" for form in ("exact", "public")}
    making = {}
    for form, path in out.items():
        argv = [
            JEUGDHUB, "report",
            str(EXAMPLES / "feed.jsonl"),
            "--from", "2025-04-01", "--to", "2026-03-31", "--every", "month",
            "--regions", str(EXAMPLES / "regions.csv"),
            "--baseline", "2025-06-30",
            "--output", str(path),
        ]  # fmt: skip
        making[form] = subprocess.Popen(
            [*argv, "--public"] if form == "public" else argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        for form, process in making.items():
            _, stderr = process.communicate(timeout=600)
            assert process.returncode == 0, f"{form}: {stderr}"
    finally:
        for process in making.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    folder = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given, so selenium does not look for one (Selenium Manager would go online).
    service = Service(executable_path=CHROMEDRIVER, log_output=str(folder / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: Any, page: Path) -> list[dict[str, Any]]:
    """Load the page; return what it wrote to the console."""
    browser.get_log("browser")  # drop anything from before
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    logs: list[dict[str, Any]] = browser.get_log("browser")
    return logs


@pytest.mark.parametrize("form", ["exact", "public"])
def test_report_opens_in_chromium_with_a_chart_per_figure_and_the_targets_table(
    form: str, reports: dict[str, Path], browser: Any, tmp_path: Path
) -> None:
    from PIL import Image

    logs = _open(browser, reports[form])
    assert not [entry for entry in logs if entry["level"] in ("SEVERE", "WARNING")], logs
    # Nothing was fetched: no stylesheet, font, script or image outside the file.
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0

    layout = browser.execute_script(
        """
        return [...document.querySelectorAll('section.region')].map(section => ({
          region: section.dataset.region,
          charts: [...section.querySelectorAll('figure.chart')].map(f => {
            const svg = f.querySelector('svg'); const box = svg.getBoundingClientRect();
            return {figure: f.dataset.figure, width: box.width, height: box.height,
                    paths: svg.querySelectorAll('path').length};
          }),
          targets: [...section.querySelectorAll('table[data-table=targets] tbody tr')].map(tr =>
            ({target: tr.dataset.target, met: tr.dataset.met,
              shown: tr.querySelector('.status').innerText.trim()})),
        }));
        """
    )
    assert [s["region"] for s in layout] == list(REGIONS)
    for section in layout:
        assert [c["figure"] for c in section["charts"]] == list(CHART_FIGURES), section["region"]
        for chart in section["charts"]:
            assert chart["width"] > 200 and chart["height"] > 100 and chart["paths"] > 5, (
                section["region"],
                chart,
            )
        assert [t["target"] for t in section["targets"]] == [t.name for t in TARGETS]
        for target in section["targets"]:
            expected = {"met": "met", "not-met": "not met", "unknown": "not evaluable"}[target["met"]]
            assert target["shown"].lower() == expected
    unresolved = browser.execute_script(
        """
        return [...document.querySelectorAll('use')]
          .map(u => u.href.baseVal)
          .filter(ref => !ref.startsWith('#') || !document.getElementById(ref.slice(1)));
        """
    )
    assert unresolved == []
    banner = browser.execute_script("return document.querySelector('p.banner').innerText")
    assert ("Public form" in banner) == (form == "public")

    top = tmp_path / f"report-{form}-top.png"
    assert browser.save_screenshot(str(top))
    browser.execute_script("document.querySelector('#region-T01 .charts').scrollIntoView()")
    charts = tmp_path / f"report-{form}-charts.png"
    assert browser.save_screenshot(str(charts))
    print(f"screenshots: {top} {charts}")
    for shot in (top, charts):
        with Image.open(shot) as image:
            assert image.size[0] >= 1000 and image.size[1] >= 600, image.size
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 50, f"{shot} looks blank"
