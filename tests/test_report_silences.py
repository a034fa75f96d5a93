"""aftercare-silences against a real Alertmanager: maintenance windows become silences once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import requests

from devstack.alertmanager import Alertmanager

REPO = Path(__file__).resolve().parent.parent
AM_CONFIG = """
route: {receiver: none}
receivers: [{name: none}]
"""


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "reportgen.silences", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_windows_become_silences_once(tmp_path):
    start = (int(time.time()) // 3600 + 2) * 3600
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).isoformat()  # noqa: E731
    config = tmp_path / "aftercare.yml"
    config.write_text(f"""
systems:
  - name: shop
    maintenance:
      - {{from: "{iso(start)}", to: "{iso(start + 5400)}", reason: database upgrade}}
      - {{from: "{iso(start + 30 * 86400)}", to: "{iso(start + 30 * 86400 + 60)}", reason: later}}
  - name: desk
""")
    with Alertmanager(AM_CONFIG) as am:
        first = run("--config.file", str(config), "--alertmanager", am.url)
        assert first.returncode == 0, first.stderr
        again = run("--config.file", str(config), "--alertmanager", am.url)
        assert again.returncode == 0, again.stderr
        silences = requests.get(f"{am.url}/api/v2/silences", timeout=10).json()
    assert len(silences) == 1  # the window in 30 days is not due yet
    silence = silences[0]
    assert silence["matchers"] == [
        {"name": "system", "value": "shop", "isRegex": False, "isEqual": True}
    ]
    assert silence["comment"] == "planned maintenance of shop: database upgrade"
    moment = lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()  # noqa
    assert moment(silence["startsAt"]) == start and moment(silence["endsAt"]) == start + 5400
    assert "1 silences made" in first.stdout and "0 silences made" in again.stdout


def test_bad_config_and_unreachable_alertmanager(tmp_path):
    config = tmp_path / "aftercare.yml"
    config.write_text(
        "systems:\n  - name: shop\n    maintenance:\n"
        '      - {from: "2026-11-03 10:00", to: "2026-11-03 09:00", reason: x}\n'
    )
    bad = run("--config.file", str(config), "--alertmanager", "http://127.0.0.1:9")
    assert bad.returncode == 2 and "maintenance[0].to" in bad.stderr
    assert "Traceback" not in bad.stderr
    config.write_text("systems:\n  - name: shop\n")
    down = run("--config.file", str(config), "--alertmanager", "http://127.0.0.1:9")
    assert down.returncode == 3 and "Alertmanager" in down.stderr and "Traceback" not in down.stderr
