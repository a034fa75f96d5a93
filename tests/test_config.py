"""The strict config loader, driven by fixture files.

Every ``fixtures/config/invalid-*.yml`` holds one realistic mistake and states,
on its first line, where the error must point and part of what it must say::

    # expect: systems[0].databases[0].timeout | expected a duration

Adding a file adds a case.  The ``valid-*.yml`` files must load, with their
values converted (durations to seconds, sizes to bytes, defaults applied).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporters.config import ConfigError, Secret, load_config

FIXTURES = Path(__file__).parent / "fixtures" / "config"
REPO = Path(__file__).resolve().parent.parent
INVALID = sorted(FIXTURES.glob("invalid-*.yml"))
VALID = sorted(FIXTURES.glob("valid-*.yml"))
EXPECT = re.compile(r"# expect: (?P<key>\S.*?) \| (?P<message>\S.*)")

# Named by invalid-password-env-unset.yml; must not exist while the tests run.
UNSET_PASSWORD_ENV = "AFTERCARE_TEST_UNSET_PASSWORD"


def expectation(path: Path) -> tuple[str, str]:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    m = EXPECT.fullmatch(first.rstrip())
    assert m, f"{path.name}: first line must be '# expect: <key path> | <message part>'"
    return m["key"], m["message"]


def load_error(file: str | Path) -> ConfigError:
    """The ConfigError that loading ``file`` raises; any other outcome fails."""
    try:
        load_config(str(file))
    except ConfigError as err:
        return err
    except Exception as err:  # noqa: BLE001 - the point is to catch anything else
        pytest.fail(f"{Path(file).name}: {type(err).__name__} instead of ConfigError: {err}")
    pytest.fail(f"{Path(file).name}: loaded without an error")


@pytest.fixture
def in_fixture_dir(monkeypatch):
    """Run from the fixture folder: relative password_file paths point at it."""
    monkeypatch.chdir(FIXTURES)
    monkeypatch.delenv(UNSET_PASSWORD_ENV, raising=False)


# --- the bad files ---------------------------------------------------------------------


def test_fixture_set_is_complete():
    assert len(INVALID) >= 30
    assert {p.name for p in VALID} >= {"valid-minimal.yml", "valid-full.yml"}
    for path in INVALID:
        expectation(path)
    bodies = {}
    for path in INVALID:
        body = path.read_text(encoding="utf-8").split("\n", 1)[1]
        assert body not in bodies, f"{path.name} repeats {bodies.get(body)}"
        bodies[body] = path.name


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem.removeprefix("invalid-"))
def test_invalid_config(path, in_fixture_dir):
    key, message = expectation(path)
    err = load_error(path.name)
    assert err.key == key, str(err)
    assert message in str(err)
    assert path.name in str(err)
    assert err.file == path.name
    assert "\n" not in str(err)


@pytest.mark.parametrize(
    "content, key, message",
    [
        (b"", "(top level)", "expected a mapping with 'systems'"),
        (b"\n  \n", "(top level)", "expected a mapping with 'systems'"),
        (b"systems:\n  - name: caf\xe9\n", "(top level)", "not UTF-8"),
        (b"systems: 5\n", "systems", "expected a list"),
        (b"just a string\n", "(top level)", "expected a mapping with 'systems'"),
    ],
    ids=["zero-bytes", "blank", "latin-1", "systems-int", "top-level-string"],
)
def test_invalid_documents(tmp_path, content, key, message):
    file = tmp_path / "aftercare.yml"
    file.write_bytes(content)
    err = load_error(file)
    assert (err.key, err.file) == (key, str(file))
    assert message in str(err)


def test_missing_file(tmp_path):
    file = tmp_path / "nowhere" / "aftercare.yml"
    err = load_error(file)
    assert err.key == "(top level)"
    assert str(file) in str(err)
    assert "cannot read the config file" in str(err)


# --- the good files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", VALID + [REPO / "examples" / "aftercare.yml"], ids=lambda p: p.name
)
def test_valid_config_loads(path):
    config = load_config(str(path))
    assert config.file == str(path)
    assert config.systems


def test_minimal_config_gets_defaults():
    config = load_config(str(FIXTURES / "valid-minimal.yml"))
    assert (config.defaults.timeout, config.defaults.timezone) == (5.0, "UTC")
    (system,) = config.systems
    assert system.name == "billing"
    assert system.timezone == "UTC"
    assert (system.sla.availability, system.sla.response_time) == (0.999, 2.0)
    assert system.databases == system.logs == system.integrations == ()
    assert system.exchange == system.backups == ()
    (service,) = system.services
    assert service.kind == "http"
    assert service.timeout == 5.0
    assert service.http.url == "http://127.0.0.1:8080/health"
    assert service.http.method == "GET"
    assert service.http.follow_redirects is True and service.http.tls_verify is True


@pytest.fixture(scope="module")
def full():
    return load_config(str(FIXTURES / "valid-full.yml"))


def by_name(items, name):
    return next(x for x in items if getattr(x, "name", getattr(x, "source", None)) == name)


def test_full_defaults_inherited_and_overridden(full):
    billing = full.system("billing")
    assert full.defaults.timeout == 5.0
    assert full.defaults.state_dir == "/var/lib/aftercare"
    assert billing.timezone == full.system("crm").timezone == "Asia/Shanghai"
    # inherited from defaults.timeout
    assert by_name(billing.databases, "billing-pg").timeout == 5.0
    assert by_name(billing.services, "billing-web").timeout == 5.0
    assert by_name(billing.integrations, "payments").timeout == 5.0
    # overridden per target
    assert by_name(billing.databases, "billing-my").timeout == 90.0
    assert by_name(billing.services, "billing-rpc").timeout == 0.5
    assert by_name(billing.integrations, "sftp-port").timeout == 2.0


def test_full_durations_are_float_seconds(full):
    billing = full.system("billing")
    pg = by_name(billing.databases, "billing-pg")
    tax = by_name(billing.exchange, "tax-upload")
    nightly = by_name(billing.backups, "nightly")
    values = {
        "defaults.timeout": (full.defaults.timeout, 5.0),
        "sla.response_time": (billing.sla.response_time, 2.0),
        "slow_query": (pg.slow_query, 30.0),
        "max_duration": (tax.max_duration, 1800.0),
        "exchange grace (default)": (tax.grace, 900.0),
        "backup grace (default)": (nightly.grace, 3600.0),
    }
    for what, (got, want) in values.items():
        assert type(got) is float and got == want, what


def test_full_sizes_cron_and_backups(full):
    billing = full.system("billing")
    nightly = by_name(billing.backups, "nightly")
    assert nightly.min_size == 10 * 1024 * 1024 == 10485760
    assert type(nightly.min_size) is int
    assert nightly.schedule == "30 1 * * *"
    assert nightly.verify == "pg_restore"
    assert nightly.path == "/backups/billing/*.dump"
    pgbr = by_name(billing.backups, "pgbackrest-main")
    assert (pgbr.path, pgbr.min_size, pgbr.verify) == (None, 0, "none")
    assert (pgbr.pgbackrest.stanza, pgbr.pgbackrest.command) == ("main", "pgbackrest")
    assert pgbr.schedule == "0 3 * * 0"


def test_full_exchange(full):
    billing = full.system("billing")
    tax = by_name(billing.exchange, "tax-upload")
    assert tax.schedule == "0 2 * * *"
    assert (tax.outbox.path, tax.outbox.pattern) == ("/data/outbox", "*.xml")
    assert tax.log.source == "tax-upload"
    assert tax.log.levels["error"].search("FATAL: disk full")
    invoice = by_name(billing.exchange, "invoice-export")
    assert invoice.schedule == "*/15 8-18 * * 1-5"
    assert invoice.max_duration is None and invoice.log is None
    assert invoice.query.database == "billing-pg"


def test_full_sla(full):
    billing, crm = full.system("billing"), full.system("crm")
    assert (billing.sla.availability, billing.sla.response_time) == (0.999, 2.0)
    assert billing.customer == "Example Co."
    assert (crm.sla.availability, crm.sla.response_time) == (0.999, 2.0)
    assert crm.customer is None


def test_full_log_levels(full):
    billing = full.system("billing")
    app1 = by_name(billing.logs, "app1")
    assert {k: v.pattern for k, v in app1.levels.items()} == {
        "error": "ERROR|Exception",
        "warning": "WARN",
    }
    assert app1.format == "plain"
    access = by_name(billing.logs, "app1-access")
    assert access.format == "combined"
    assert set(access.levels) == {"error", "warning"}
    for line in ("ERROR x", "FATAL y", "CRITICAL z", "java.lang.NullPointerException"):
        assert access.levels["error"].search(line), line
    assert access.levels["warning"].search("WARN low disk")
    assert not access.levels["error"].search("INFO started")


def test_full_targets(full):
    billing = full.system("billing")
    assert [s.kind for s in billing.services] == ["http", "tcp", "process"]
    assert [i.kind for i in billing.integrations] == [
        "http",
        "redis",
        "amqp",
        "mqtt",
        "postgresql",
        "tcp",
        "dns",
    ]
    assert by_name(billing.services, "billing-web").http.expect_status == (200,)
    assert by_name(billing.services, "billing-worker").process.pattern.search("billing-worker -c x")
    pg = by_name(billing.databases, "billing-pg")
    assert (pg.type, pg.top_tables, pg.data_path) == ("postgresql", 20, "/var/lib/postgresql")
    assert (pg.log.path, pg.log.format) == ("/var/log/postgresql/postgresql-15-main.log", "auto")
    assert (pg.dsn.scheme, pg.dsn.host, pg.dsn.port, pg.dsn.user, pg.dsn.database) == (
        "postgresql",
        "127.0.0.1",
        5432,
        "monitor",
        "postgres",
    )
    assert pg.password is None
    assert str(pg.dsn) == "postgresql://monitor@127.0.0.1:5432/postgres"
    my = by_name(billing.databases, "billing-my")
    assert (my.dsn.scheme, my.dsn.port, my.dsn.database) == ("mysql", 3306, None)
    dns = by_name(billing.integrations, "resolver").dns
    assert (dns.name, dns.server, dns.record) == ("localhost", None, "A")


SERVICE_TIMEOUT = """\
systems:
  - name: billing
    services:
      - {{name: billing-web, timeout: "{value}", tcp: {{address: "app1:8080"}}}}
"""


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("500ms", 0.5),
        ("5s", 5.0),
        ("2m", 120.0),
        ("26h", 93600.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1m30s", 90.0),
        ("100ms", 0.1),
    ],
)
def test_duration_conversion(tmp_path, value, seconds):
    file = tmp_path / "aftercare.yml"
    file.write_text(SERVICE_TIMEOUT.format(value=value))
    got = load_config(str(file)).systems[0].services[0].timeout
    assert type(got) is float and got == seconds


BACKUP_SIZE = """\
systems:
  - name: billing
    backups:
      - {{name: nightly, path: "/backups/*.dump", min_size: {value}}}
"""


@pytest.mark.parametrize(
    "value, size",
    [
        ("512", 512),
        ('"512"', 512),
        ("0", 0),
        ("10MiB", 10485760),
        ("2GB", 2_000_000_000),
        ("1KiB", 1024),
        ("1KB", 1000),
        ("1.5KiB", 1536),
        ("1TiB", 2**40),
    ],
)
def test_size_conversion(tmp_path, value, size):
    file = tmp_path / "aftercare.yml"
    file.write_text(BACKUP_SIZE.format(value=value))
    got = load_config(str(file)).systems[0].backups[0].min_size
    assert type(got) is int and got == size


# --- secrets -------------------------------------------------------------------------------

FILE_PW, ENV_PW, DSN_PW = "F1leSecret-pw", "EnvSecret-pw9", "S3cretPW"
SECRETS = (FILE_PW, ENV_PW, DSN_PW)
SECRET_ENV = "AFTERCARE_TEST_PG_PASSWORD"

SECRET_CONFIG = """\
systems:
  - name: billing
    databases:
      - name: pg-file
        type: postgresql
        dsn: postgresql://monitor@db1:5432/postgres
        password_file: {password_file}
      - name: pg-env
        type: postgresql
        dsn: postgresql://monitor@db2:5432/postgres
        password_env: {env}
      - name: pg-dsn
        type: postgresql
        dsn: postgresql://u:{dsn_pw}@h/db
    integrations:
      - name: erp-db
        postgresql: {{dsn: "postgresql://u:{dsn_pw}@erp/erp"}}
      - name: cache
        redis: {{address: "cache1:6379", password_env: {env}}}
      - name: queue
        amqp: {{url: "amqp://guest@mq1:5672/", password_file: {password_file}}}
"""

# A later key in the same file that is wrong: the secrets above were read by then.
LATER_MISTAKES = {
    "bad-address": (
        """\
    services:
      - {name: billing-rpc, tcp: {address: "app1"}}
""",
        "systems[0].services[0].tcp.address",
    ),
    "bad-backup-verify": (
        """\
    backups:
      - {name: nightly, path: "/backups/*.dump", verify: md5}
""",
        "systems[0].backups[0].verify",
    ),
    "duplicate-system": (
        """\
  - name: billing
    services:
      - {name: billing-web, tcp: {address: "app1:8080"}}
""",
        "systems[1].name",
    ),
    "yaml-error": (
        """\
    services: [
""",
        "(top level)",
    ),
}


@pytest.fixture
def secret_config(tmp_path, monkeypatch):
    password_file = tmp_path / "pg.pass"
    password_file.write_text(FILE_PW + "\n")
    monkeypatch.setenv(SECRET_ENV, ENV_PW)
    text = SECRET_CONFIG.format(password_file=password_file, env=SECRET_ENV, dsn_pw=DSN_PW)
    return tmp_path, text


def assert_no_secret(text: str, where: str):
    for secret in SECRETS:
        assert secret not in text, f"{where} shows a password: {text}"


def test_secrets_are_held_not_shown(secret_config):
    tmp_path, text = secret_config
    file = tmp_path / "aftercare.yml"
    file.write_text(text)
    config = load_config(str(file))
    assert_no_secret(repr(config), "repr(config)")
    assert_no_secret(str(config), "str(config)")
    billing = config.system("billing")
    expected = {"pg-file": FILE_PW, "pg-env": ENV_PW, "pg-dsn": DSN_PW}
    for name, password in expected.items():
        db = by_name(billing.databases, name)
        assert isinstance(db.password, Secret)
        assert db.password.reveal() == password
        for shown in (str(db.dsn), repr(db.dsn), str(db.password), repr(db.password), repr(db)):
            assert_no_secret(shown, f"database {name}")
    pg_dsn = by_name(billing.databases, "pg-dsn")
    assert pg_dsn.dsn.password.reveal() == DSN_PW
    assert str(pg_dsn.dsn) == "postgresql://u@h/db"
    erp = by_name(billing.integrations, "erp-db").postgresql
    assert erp.password.reveal() == DSN_PW
    assert str(erp.dsn) == "postgresql://u@erp/erp"
    assert by_name(billing.integrations, "cache").redis.password.reveal() == ENV_PW
    assert by_name(billing.integrations, "queue").amqp.password.reveal() == FILE_PW


@pytest.mark.parametrize("mistake", LATER_MISTAKES)
def test_secrets_not_in_error_for_later_key(secret_config, mistake):
    tmp_path, text = secret_config
    tail, key = LATER_MISTAKES[mistake]
    file = tmp_path / "aftercare.yml"
    file.write_text(text + tail)
    err = load_error(file)
    assert err.key == key, str(err)
    assert_no_secret(str(err), "str(error)")
    assert_no_secret(repr(err), "repr(error)")


BAD_URL_WITH_PASSWORD = {
    "http-url-scheme": (
        """\
    services:
      - {name: files, http: {url: "ftp://monitor:S3cretPW@files1/status"}}
""",
        "systems[0].services[0].http.url",
    ),
    "http-url-port": (
        """\
    services:
      - {name: web, http: {url: "http://monitor:S3cretPW@app1:99999/health"}}
""",
        "systems[0].services[0].http.url",
    ),
    "dsn-scheme": (
        """\
    databases:
      - {name: billing-my, type: mysql, dsn: "postgresql://monitor:S3cretPW@db1/postgres"}
""",
        "systems[0].databases[0].dsn",
    ),
    "dsn-without-host": (
        """\
    integrations:
      - {name: erp-db, postgresql: {dsn: "postgresql://monitor:S3cretPW@/erp"}}
""",
        "systems[0].integrations[0].postgresql.dsn",
    ),
    "dsn-broken-ipv6": (
        """\
    databases:
      - {name: billing-pg, type: postgresql, dsn: "postgresql://monitor:S3cretPW@[::1/db"}
""",
        "systems[0].databases[0].dsn",
    ),
    "amqp-url-scheme": (
        """\
    integrations:
      - {name: queue, amqp: {url: "http://guest:S3cretPW@mq1:15672/"}}
""",
        "systems[0].integrations[0].amqp.url",
    ),
    # a URL written where host:port is expected is still a URL with a password
    "redis-url-as-address": (
        """\
    integrations:
      - {name: cache, redis: {address: "redis://:S3cretPW@cache1:6379"}}
""",
        "systems[0].integrations[0].redis.address",
    ),
    "mqtt-url-as-address": (
        """\
    integrations:
      - {name: iot, mqtt: {address: "mqtt://iot:S3cretPW@mq1:1883"}}
""",
        "systems[0].integrations[0].mqtt.address",
    ),
}


@pytest.mark.parametrize("case", BAD_URL_WITH_PASSWORD)
def test_bad_url_error_does_not_echo_password(tmp_path, case):
    body, key = BAD_URL_WITH_PASSWORD[case]
    file = tmp_path / "aftercare.yml"
    file.write_text("systems:\n  - name: billing\n" + body)
    err = load_error(file)
    assert err.key == key, str(err)
    assert "S3cretPW" not in str(err)
    assert "S3cretPW" not in repr(err)
