"""Benchmark aftercare-desk: the incident list and a knowledge-base search with 100,000
incidents (median of repeated requests), and webhook intake rate on SQLite.

    python bench/desk_bench.py [--incidents 100000] [--database URL] [--runs 20]

Without --database a fresh SQLite file in a temp dir is used.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from desk.auth import hash_password  # noqa: E402
from desk.config import Customer, DeskConfig  # noqa: E402
from desk.db import make_engine, migrate, sessions  # noqa: E402
from desk.models import Incident, KnowledgeDoc, User  # noqa: E402
from desk.web import create_app  # noqa: E402

WORDS = [
    "磁盘",
    "空间",
    "数据库",
    "连接",
    "备份",
    "归档",
    "超时",
    "重启",
    "索引",
    "慢查询",
    "disk",
    "backup",
    "timeout",
    "restart",
    "replication",
    "vacuum",
    "certificate",
]
CONFIG = DeskConfig(customers={f"c{i}": Customer(systems=[f"s{i}"]) for i in range(20)})


def fill(engine, n: int) -> None:
    """n incidents over 90 days, a fifth of them open, the resolved ones in the knowledge base."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    with sessions(engine)() as db:
        db.add(
            User(
                username="eng", role="engineer", password_hash=hash_password("bench-pw-1", rounds=4)
            )
        )
        db.commit()
    batch, docs = [], []
    for i in range(n):
        start = now - timedelta(seconds=rng.randrange(90 * 86400))
        resolved = rng.random() < 0.8
        system = f"s{rng.randrange(20)}"
        batch.append(
            dict(
                kind="alert",
                fingerprint=f"{i:016x}",
                starts_at=start,
                alertname=f"Alert{rng.randrange(40)}",
                severity=rng.choice(["critical", "warning", "info"]),
                system=system,
                customer=f"c{system[1:]}",
                title=f"incident {i}",
                labels="{}",
                source="alertmanager",
                status="resolved" if resolved else "open",
                created_at=start,
                claimed_by="eng" if resolved else "",
                root_cause="capacity" if resolved else "",
                resolution="",
                resolved_by="eng" if resolved else "",
                claimed_at=start + timedelta(minutes=5) if resolved else None,
                resolved_at=start + timedelta(hours=1) if resolved else None,
            )
        )
        if resolved:
            text = "".join(rng.choice(WORDS) for _ in range(30))
            docs.append(
                dict(source="incident", ref=f"incident:{i + 1}", title=f"incident {i}", body=text)
            )
        if len(batch) == 10000:
            _flush(engine, batch, docs)
    _flush(engine, batch, docs)


def _flush(engine, batch, docs):
    with engine.begin() as conn:
        if batch:
            conn.execute(Incident.__table__.insert(), batch)
        if docs:
            conn.execute(KnowledgeDoc.__table__.insert(), docs)
    batch.clear()
    docs.clear()


def median_ms(client, path: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def _post_chunk(args: tuple[str, list[str]]) -> list[int]:
    """Post bodies one after another from a client process (its own interpreter)."""
    url, bodies = args
    session = requests.Session()
    return [
        session.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=30
        ).status_code
        for body in bodies
    ]


def intake_rate(app, count: int, clients: int) -> tuple[float, int]:
    """Notifications a second through HTTP, the senders in ``clients`` other processes."""
    from concurrent.futures import ProcessPoolExecutor

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.port}/intake/alertmanager"
    start = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    bodies = [
        json.dumps(
            {
                "version": "4",
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "fingerprint": f"intake{i:010d}",
                        "startsAt": start,
                        "labels": {"alertname": "Bench", "system": "s1"},
                        "annotations": {},
                    }
                ],
            }
        )
        for i in range(count)
    ]
    chunks = [(url, bodies[i::clients]) for i in range(clients)]
    with ProcessPoolExecutor(clients) as pool:
        pool.submit(int).result()  # the workers are up before the clock
        began = time.perf_counter()
        codes = [code for chunk in pool.map(_post_chunk, chunks) for code in chunk]
        elapsed = time.perf_counter() - began
    server.shutdown()
    return count / elapsed, sum(code != 200 for code in codes)


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100000)
    parser.add_argument("--database", default=None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--notifications", type=int, default=3000)
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp(prefix='desk-bench-')}/desk.db"
    engine = make_engine(url)
    migrate(engine)
    began = time.perf_counter()
    fill(engine, args.incidents)
    print(f"filled {args.incidents} incidents in {time.perf_counter() - began:.1f}s ({url})")
    app = create_app(CONFIG, engine)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"username": "eng", "password": "bench-pw-1", "csrf": token})
    for path in [
        "/",
        "/?state=all",
        "/api/incidents",
        "/kb?q=慢查询",
        "/kb?q=磁盘",
        "/kb?q=replication",
        "/kb?q=数据库连接超时",
    ]:
        print(f"GET {path}: median {median_ms(client, path, args.runs):.1f} ms")
    rate, failed = intake_rate(app, args.notifications, 4)
    with sessions(engine)() as db:
        stored = db.query(Incident).filter(Incident.alertname == "Bench").count()
    print(
        f"intake: {rate:.0f} notifications/s, {failed} refused, {stored} of "
        f"{args.notifications} stored"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
