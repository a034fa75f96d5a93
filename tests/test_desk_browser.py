"""The desk in a real browser (Debian's Chromium driven by Playwright) on both databases:
an alert from a real Alertmanager handled from claim to resolution, then searched, exported."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from devstack.alertmanager import Alertmanager
from tests.desk_fixtures import PASSWORD, LiveDesk
from tests.test_desk_intake import am_config, count, wait_for

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = os.environ.get("AFTERCARE_DESK_SCREENSHOTS")  # a directory to save the pages in

from playwright import sync_api  # noqa: E402  (the [test] extra installs it)


@pytest.fixture(autouse=True, scope="module")
def _chromium_is_installed() -> None:
    """Debian's chromium is a test dependency (make system-deps): missing is a failure."""
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: make system-deps installs chromium"


def log_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def log_out(page) -> None:
    page.click("header button[type=submit]")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"desk-{name}.png"), full_page=True)


def test_browser_handles_a_fired_incident(desk_app, desk_engine, token_file, tmp_path):
    started = datetime.now(UTC).replace(microsecond=0)
    alert = {
        "labels": {
            "alertname": "AftercareDatabaseDown",
            "system": "billing",
            "severity": "critical",
        },
        "annotations": {"summary": "Database main of system billing is down"},
        "startsAt": started.isoformat().replace("+00:00", "Z"),
    }
    with LiveDesk(desk_app) as desk, Alertmanager(am_config(desk.address, token_file)) as am:
        am.post_alerts([alert])
        wait_for(lambda: count(desk_engine) == 1)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_context(accept_downloads=True, locale="zh-CN").new_page()
            base = desk.url
            log_in(page, base, "eng")
            page.wait_for_selector("text=Database main of system billing is down")
            shot(page, "list")
            page.click("text=Database main of system billing is down")
            page.click("#claim")
            assert "eng at" in page.inner_text("#claimed")
            page.fill("textarea[name=body]", "主库磁盘写满导致宕机，已清理 WAL 归档")
            page.click("#add-note")
            page.fill("textarea[name=proposal]", "扩容数据盘至 500GB 并设置归档清理任务")
            page.click("#propose")
            incident_url = page.url
            log_out(page)
            log_in(page, base, "alice")
            page.goto(incident_url)
            assert "主库磁盘写满导致宕机" in page.inner_text("#notes")
            page.click("button[value=approve]")
            assert "approved by alice" in page.inner_text("#remedies")
            shot(page, "incident")
            log_out(page)
            log_in(page, base, "eng")
            page.goto(incident_url)
            page.select_option("select[name=root_cause]", "capacity")
            page.fill("textarea[name=resolution]", "扩容完成，归档清理已上线")
            page.click("#resolve")
            assert page.inner_text("#status").startswith("resolved")
            assert page.inner_text("#times") != "– / –"
            page.goto(f"{base}/kb")
            page.fill("#q", "磁盘")
            page.click("#search")
            results = page.inner_text("#results")
            assert "Database main of system billing is down" in results
            shot(page, "kb")
            with page.expect_download() as download:
                page.click("text=Export XLSX")
            path = tmp_path / "incidents.xlsx"
            download.value.save_as(path)
            browser.close()
    rows = list(
        load_workbook(io.BytesIO(path.read_bytes()))["incidents"].iter_rows(values_only=True)
    )
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["status"], row["claimed_by"], row["root_cause"]) == ("resolved", "eng", "capacity")
    assert row["resolution"] == "扩容完成，归档清理已上线"
    assert row["time_to_resolve_seconds"] >= row["time_to_acknowledge_seconds"] >= 0
