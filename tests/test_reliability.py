"""Reliability of the scrape engine: the worker pool, single flight, and
connection caps under an HA pair of Prometheus servers plus a burst of
simultaneous /metrics requests against real PostgreSQL and MariaDB."""

from __future__ import annotations

import concurrent.futures
import threading
import time
import uuid

import psycopg2
import pymysql
import pytest
import yaml

from devstack.waiting import wait_until
from exporters.metrics import Sink, gauge
from exporters.runtime import Area, Scraper, Target, WorkerPool

SHARED_PG = "postgresql://postgres@127.0.0.1:5432"
MARIADB = dict(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


FAKE_VALUE = gauge("aftercare_fake_value", "A constant 1, emitted by a fake collector.")


class FakeTarget(Target):
    """A target whose collection takes ``seconds`` (or hangs until released)."""

    collectors = ("probe",)

    def __init__(self, name: str, seconds: float = 0.0, hang: threading.Event | None = None):
        super().__init__("sys", name, timeout=2.0)
        self.seconds, self.hang, self.calls = seconds, hang, 0
        self._lock = threading.Lock()
        self.active = self.max_active = 0

    def collect(self, sink: Sink, timeout: float) -> None:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.hang is not None:
                self.hang.wait(30)
            elif self.seconds:
                time.sleep(self.seconds)
            with sink.collector("probe"):
                sink.add(FAKE_VALUE, 1.0)
        finally:
            with self._lock:
                self.active -= 1


class FakeArea(Area):
    name = "fake"
    target_label = "fake"
    up_metric = "aftercare_fake_up"
    reasons = ("timeout", "error")
    metrics = (FAKE_VALUE,)

    def __init__(self, targets):
        self._given = targets
        super().__init__(config=None)

    def build_targets(self, config):
        return self._given


def up_values(families) -> dict[str, float]:
    family = next(f for f in families if f.name == "aftercare_fake_up")
    return {s.labels["fake"]: s.value for s in family.samples}


def test_pool_reuses_its_threads_from_scrape_to_scrape():
    pool = WorkerPool(size=8)
    targets = [FakeTarget(f"t{i}") for i in range(200)]
    scraper = Scraper([FakeArea(targets)], pool)
    for _ in range(20):
        assert set(up_values(scraper.scrape(2.0)).values()) == {1.0}
    # 4,000 collections ran on a handful of threads, none started per target
    assert pool.started <= 8 + 2, pool.started
    assert all(t.calls == 20 for t in targets)


def test_hung_targets_never_make_the_others_wait():
    release = threading.Event()
    pool = WorkerPool(size=4, stall=0.1)
    hung = [FakeTarget(f"hung{i}", hang=release) for i in range(12)]  # 3x the pool
    quick = [FakeTarget(f"quick{i}", seconds=0.01) for i in range(60)]
    scraper = Scraper([FakeArea(hung + quick)], pool)
    try:
        start = time.monotonic()
        up = up_values(scraper.scrape(1.0))
        took = time.monotonic() - start
        assert took < 1.3, took  # the budget, not the hung targets, bounds it
        assert all(up[t.name] == 1.0 for t in quick), up
        assert all(up[t.name] == 0.0 for t in hung)
        # a second scrape joins the hung collections instead of starting new ones
        up = up_values(scraper.scrape(0.5))
        assert [t.calls for t in hung] == [1] * 12
        assert all(up[t.name] == 1.0 for t in quick)
    finally:
        release.set()
    wait_until(lambda: all(t.active == 0 for t in hung), 5, what="hung collections end")
    up = up_values(scraper.scrape(1.0))
    assert set(up.values()) == {1.0}


def test_single_flight_under_fifty_simultaneous_scrapes():
    slow = FakeTarget("slow", seconds=0.3)
    scraper = Scraper([FakeArea([slow])], WorkerPool())
    barrier = threading.Barrier(50)

    def scrape(_):
        barrier.wait()
        return up_values(scraper.scrape(2.0))["slow"]

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(scrape, range(50)))
    assert results == [1.0] * 50
    assert slow.max_active == 1
    assert slow.calls <= 2, slow.calls  # all 50 joined one flight (a late one may start a second)


def test_idle_workers_exit_and_the_pool_starts_again():
    pool = WorkerPool(size=4, idle_seconds=0.2)
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(2)
    wait_until(lambda: pool.threads == 0, 5, what="idle worker exits")
    again = threading.Event()
    pool.submit(again.set)
    assert again.wait(2)


def test_a_crashing_job_does_not_kill_its_worker():
    pool = WorkerPool(size=1)
    pool.submit(lambda: (_ for _ in ()).throw(SystemExit(3)))
    ran = threading.Event()
    pool.submit(ran.set)
    assert ran.wait(2)
    assert pool.started == 1


# -- an HA pair of Prometheus servers and a burst against real databases -------------------------


@pytest.fixture
def scratch_databases(pg_admin):
    """A PostgreSQL and a MariaDB database of this test's own (names count connections)."""
    name = f"aftercare_rel_{uuid.uuid4().hex[:8]}"
    with pg_admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    my = pymysql.connect(**MARIADB)
    with my.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name, my
    finally:
        with my.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        my.close()
        with pg_admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ConnectionWatcher:
    """Samples, every few ms, how many sessions the exporter holds on each database."""

    def __init__(self, name: str, my):
        self.name, self.my = name, my
        self.pg = psycopg2.connect(f"{SHARED_PG}/postgres")
        self.pg.autocommit = True
        self.max_pg = self.max_my = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            with self.pg.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = 'aftercare-exporter'",
                    (self.name,),
                )
                self.max_pg = max(self.max_pg, cur.fetchone()[0])
            with self.my.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM information_schema.processlist WHERE db = %s",
                    (self.name,),
                )
                self.max_my = max(self.max_my, cur.fetchone()[0])
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.pg.close()


def test_ha_pair_and_a_burst_of_fifty_never_double_connections(
    tmp_path, exporter_factory, prometheus_factory, scratch_databases, blackhole
):
    name, my = scratch_databases
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": "2s", "state_dir": str(tmp_path)},
                "systems": [
                    {
                        "name": "billing",
                        "databases": [
                            {"name": "pg", "type": "postgresql", "dsn": f"{SHARED_PG}/{name}"},
                            {
                                "name": "my",
                                "type": "mysql",
                                "dsn": f"mysql://root@127.0.0.1:3306/{name}",
                            },
                            {
                                "name": "hung",
                                "type": "postgresql",
                                "dsn": f"postgresql://monitor@{blackhole.address}/postgres",
                            },
                        ],
                    }
                ],
            }
        )
    )
    exporter = exporter_factory("database", cfg)
    began = time.monotonic()
    scrape = [
        {
            "job_name": "aftercare-database",
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "static_configs": [{"targets": [exporter.address]}],
        }
    ]
    with ConnectionWatcher(name, my) as watcher:
        pair = [prometheus_factory(scrape_configs=scrape) for _ in range(2)]
        for prom in pair:
            prom.wait_for_targets_up(timeout=30)
        barrier = threading.Barrier(50)

        def burst(_):
            barrier.wait()
            start = time.monotonic()
            response = exporter.get(
                "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "3"}
            )
            return response.status_code, time.monotonic() - start, response.text

        slowest = 0.0
        for _ in range(2):
            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                answers = list(pool.map(burst, range(50)))
            slowest = max(slowest, max(took for _, took, _ in answers))
            assert [code for code, _, _ in answers] == [200] * 50
            # budget 3 s - 0.5 s margin; the hung target costs its budget, never more
            assert max(took for _, took, _ in answers) < 2.5 + 0.5, [t for _, t, _ in answers]
            for _, _, text in answers:
                assert 'aftercare_database_up{database="pg",system="billing"} 1.0' in text
                assert 'aftercare_database_up{database="my",system="billing"} 1.0' in text
                assert 'aftercare_database_up{database="hung",system="billing"} 0.0' in text
        time.sleep(3)  # both servers keep scraping through and after the bursts
        for prom in pair:
            health = {t["health"] for t in prom.targets()}
            assert health == {"up"}, prom.targets()
            assert prom.query("min_over_time(up[20s])")[0]["value"][1] == "1"
            assert (
                float(prom.query("max_over_time(scrape_duration_seconds[20s])")[0]["value"][1])
                < 1.0
            )
            assert prom.query('aftercare_database_up{database="pg"}')[0]["value"][1] == "1"
    assert watcher.max_pg == 1, watcher.max_pg
    assert watcher.max_my == 1, watcher.max_my
    # the hung target: one connect attempt at a time (each lasts its 2 s timeout), never one
    # per scrape (100 burst requests and ~2 scrapes a second from the pair)
    assert blackhole.accepted <= (time.monotonic() - began) / 2 + 1, blackhole.accepted
    assert "Traceback" not in exporter.stderr_text()
    print(
        f"HA pair + 2 bursts of 50: slowest answer {slowest:.2f}s, sessions held: PostgreSQL "
        f"{watcher.max_pg}, MariaDB {watcher.max_my}; "
        f"black-hole connect attempts {blackhole.accepted}"
    )
