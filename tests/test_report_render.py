"""Rendering: headless Chromium draws the HTML report (non-blank page), PDF, zh/en from one
template."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from reportgen.render import render_all, render_html, render_md, write_atomically
from reportgen.render.messages import MESSAGES

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "report-2026-10.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads(FIXTURE.read_text())


def screenshot(html: Path, png: Path) -> None:
    profile = tempfile.mkdtemp(prefix="aftercare-chromium-")
    try:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--window-size=1280,1024",
                f"--screenshot={png}",
                html.as_uri(),
            ],
            capture_output=True,
            timeout=60,
            check=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chromium_draws_a_non_blank_page(report, tmp_path, lang):
    assert CHROMIUM, "this test needs Debian's chromium package (make system-deps)"
    from PIL import Image

    html = tmp_path / "report.html"
    html.write_text(render_html(report, lang))
    png = tmp_path / "report.png"
    screenshot(html, png)
    image = Image.open(png).convert("L")
    assert image.size == (1280, 1024)
    histogram = image.histogram()
    white = sum(histogram[250:])
    dark = sum(histogram[:100])
    total = image.size[0] * image.size[1]
    assert white < total * 0.97, "the page is blank"
    assert dark > total * 0.01, "no text drawn"
    colours = Image.open(png).convert("RGB").getcolors(1 << 20)
    assert len(colours) > 50


def test_both_languages_from_one_template(report):
    en, zh = render_html(report, "en"), render_html(report, "zh")
    assert "Monthly health assessment" in en and "月度健康评估报告" in zh
    assert "月度" not in en
    # every figure appears in both: the template is shared, only the words differ
    for text in (en, zh):
        assert "99.916%" in text and "AftercareServiceDown" in text
    md = render_md(report, "zh")
    assert md.startswith("# 月度健康评估报告") and "| web (服务) |" in md
    assert all(len(pair) == 2 and all(pair) for pair in MESSAGES.values())


def test_pdf_is_a_pdf(report):
    pdf = render_all(report, ["pdf"], "zh")["pdf"]
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000


def test_atomic_write_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "out"
    write_atomically({"a.json": b"{}", "b.html": b"<p>"}, str(out))
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "b.html"]

    class Boom(bytes):
        pass

    with pytest.raises(TypeError):
        write_atomically({"c.json": b"{}", "d.html": None}, str(out))
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "b.html"]


def test_new_sections_render_in_both_languages(report):
    en, zh = render_html(report, "en"), render_html(report, "zh")
    for text, words in (
        (
            en,
            [
                "Traffic (access logs)",
                "Table growth",
                "WAL archiving",
                "Month over month",
                "other tables",
            ],
        ),
        (zh, ["访问量（访问日志）", "表增长", "WAL 归档", "环比", "其他表"]),
    ):
        for word in words:
            assert word in text, word
    # the same figures in both: requests, 5xx ratio, WAL failure days
    for text in (en, zh):
        assert "943,800" in text and "1.930%" in text and "2026-10-07, 2026-10-19" in text
    md = render_md(report, "en")
    assert "| Availability | web | availability | 100.000% | 99.916% | −0.084 pp |" in md
    assert '<a href="docs/runbooks/AftercareServiceDown.md">AftercareServiceDown.md</a>' in en
    index = copy.deepcopy(report)
    index["systems"][0]["alerts"][0]["runbook"] = "docs/runbooks/README.md"
    assert "runbook index" in render_html(index, "en") and "处置手册索引" in render_html(
        index, "zh"
    )
