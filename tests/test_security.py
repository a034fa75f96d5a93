"""Authentication and secrets.

With --web.config.file every endpoint answers 401 to no or wrong credentials
and 200 to the right ones (bcrypt, as exporter-toolkit), over TLS signed by a
test CA that a client without the CA refuses.  A scanner starts every
exporter and aftercare-report with secrets planted in password_file,
password_env and DSNs, drives them through success and every failure path,
and greps every output for the secrets.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import bcrypt
import pytest
import requests
import yaml

from devstack import REPO_ROOT
from devstack.notify import NotifyProcess
from devstack.ports import free_port
from devstack.postgres import ThrowawayPostgres
from devstack.waiting import wait_until

AREAS = ("database", "services", "integrations", "exchange", "backups", "all")


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate it signed for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aftercare test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_every_endpoint_needs_the_credentials_over_tls_from_a_known_ca(tmp_path, exporter_factory):
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
                "basic_auth_users": {
                    "prometheus": bcrypt.hashpw(b"scrape-Pa55", bcrypt.gensalt(4)).decode()
                },
            }
        )
    )
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": "1s", "state_dir": str(tmp_path)},
                "systems": [
                    {"name": "s", "services": [{"name": "self", "tcp": {"address": "127.0.0.1:9"}}]}
                ],
            }
        )
    )
    exporter = exporter_factory(
        "services",
        cfg,
        "--web.config.file",
        str(web),
        scheme="https",
        auth=("prometheus", "scrape-Pa55"),
        verify=str(ca),
    )
    url = exporter.url
    requests_to_make = [
        ("GET", p) for p in ("/metrics", "/-/healthy", "/-/ready", "/", "/nope", "/metrics?x=1")
    ]
    requests_to_make += [
        ("HEAD", "/metrics"),
        ("POST", "/-/reload"),
        ("PUT", "/-/reload"),
        ("POST", "/metrics"),
    ]
    wrong = [
        None,
        ("prometheus", "wrong"),
        ("Prometheus", "scrape-Pa55"),
        ("", ""),
        ("prometheus", "scrape-Pa55 "),
        ("prometheus", "scrape-Pa5"),
    ]
    for method, path in requests_to_make:
        for auth in wrong:
            answer = requests.request(method, url + path, auth=auth, verify=str(ca), timeout=10)
            assert answer.status_code == 401, (method, path, auth, answer.status_code)
            assert answer.headers.get("WWW-Authenticate", "").startswith("Basic")
        for header in ("Basic", "Basic !!!", "Bearer scrape-Pa55", "Basic cHJvbWV0aGV1cw=="):
            answer = requests.request(
                method, url + path, headers={"Authorization": header}, verify=str(ca), timeout=10
            )
            assert answer.status_code == 401, (method, path, header)
        right = requests.request(
            method, url + path, auth=("prometheus", "scrape-Pa55"), verify=str(ca), timeout=10
        )
        expected = {"/nope": 404, "/metrics?x=1": 200}.get(path, 200)
        if (method, path) == ("POST", "/metrics"):
            expected = 405
        assert right.status_code == expected, (method, path, right.status_code)
    # the certificate is checked: without the CA the client refuses the server
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url + "/metrics", auth=("prometheus", "scrape-Pa55"), timeout=10)
    # and plain HTTP to the TLS port gets no metrics
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url.replace("https://", "http://") + "/metrics", timeout=5)
    assert "scrape-Pa55" not in exporter.stderr_text()


# -- the secret scanner ---------------------------------------------------------------------------


def secret() -> str:
    return f"Pl4nted-{uuid.uuid4().hex[:12]}"


def test_planted_secrets_never_appear_in_any_output(
    tmp_path, exporter_factory, prometheus_factory, blackhole
):
    secrets = {
        k: secret()
        for k in (
            "pg_file",
            "pg_wrong",
            "my_env",
            "dsn_inline",
            "amqp",
            "report_basic",
            "bad_config",
            "robot_token",
            "robot_sign",
        )
    }
    pg = ThrowawayPostgres(initdb_args=["--auth-host=scram-sha-256"])
    # the superuser's password set via a pwfile at initdb (scram for TCP connections)
    pwfile = pg.dir / "pw"
    pwfile.write_text(secrets["pg_file"] + "\n")
    os.chown(pwfile, pg.dir.stat().st_uid, pg.dir.stat().st_gid)
    pg.initdb_args.append(f"--pwfile={pwfile}")
    with pg:
        (tmp_path / "pg.pass").write_text(secrets["pg_file"] + "\n")
        (tmp_path / "wrong.pass").write_text(secrets["pg_wrong"] + "\n")
        env = {"AFTERCARE_MY_PASSWORD": secrets["my_env"]}
        closed = f"127.0.0.1:{free_port()}"
        config = {
            "defaults": {"timeout": "2s", "state_dir": str(tmp_path / "state")},
            "systems": [
                {
                    "name": "billing",
                    "databases": [
                        {
                            "name": "pg-ok",
                            "type": "postgresql",
                            "dsn": pg.dsn(),
                            "password_file": str(tmp_path / "pg.pass"),
                        },
                        {
                            "name": "pg-wrong",
                            "type": "postgresql",
                            "dsn": pg.dsn(),
                            "password_file": str(tmp_path / "wrong.pass"),
                        },
                        {
                            "name": "pg-unreachable",
                            "type": "postgresql",
                            "dsn": f"postgresql://monitor:{secrets['dsn_inline']}@{closed}/postgres",
                        },
                        {
                            "name": "pg-hung",
                            "type": "postgresql",
                            "dsn": f"postgresql://monitor:{secrets['dsn_inline']}@{blackhole.address}/postgres",
                        },
                        {
                            "name": "my-wrong",
                            "type": "mysql",
                            "dsn": "mysql://root@127.0.0.1:3306/",
                            "password_env": "AFTERCARE_MY_PASSWORD",
                        },
                    ],
                    "services": [{"name": "web", "http": {"url": f"http://{closed}/health"}}],
                    "integrations": [
                        {
                            "name": "queue",
                            "amqp": {"url": f"amqp://guest:{secrets['amqp']}@127.0.0.1:5672/"},
                        },
                        {"name": "cache", "redis": {"address": "127.0.0.1:6379"}},
                        {
                            "name": "erp",
                            "postgresql": {
                                "dsn": pg.dsn(),
                                "password_file": str(tmp_path / "wrong.pass"),
                            },
                        },
                        {
                            "name": "erp-ok",
                            "postgresql": {
                                "dsn": pg.dsn(),
                                "password_file": str(tmp_path / "pg.pass"),
                            },
                        },
                        {
                            "name": "my",
                            "mysql": {"dsn": f"mysql://root:{secrets['my_env']}@127.0.0.1:3306/"},
                        },
                    ],
                    "exchange": [
                        {
                            "name": "upload",
                            "schedule": "0 2 * * *",
                            "query": {
                                "database": "pg-wrong",
                                "sql": "SELECT now() AS last_success",
                            },
                        }
                    ],
                    "backups": [
                        {
                            "name": "nightly",
                            "path": str(tmp_path / "b" / "*.dump"),
                            "schedule": "30 1 * * *",
                        }
                    ],
                }
            ],
        }
        # aftercare-notify: a DingTalk robot that cannot be reached, its token and secret planted
        (tmp_path / "robot.url").write_text(
            f"http://{closed}/robot/send?access_token={secrets['robot_token']}\n"
        )
        (tmp_path / "robot.secret").write_text(secrets["robot_sign"] + "\n")
        config["notify"] = {
            "retry_initial": "100ms",
            "retry_max": "500ms",
            "channels": [
                {
                    "name": "oncall",
                    "type": "dingtalk",
                    "url_file": str(tmp_path / "robot.url"),
                    "secret_file": str(tmp_path / "robot.secret"),
                }
            ],
        }
        cfg = tmp_path / "aftercare.yml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False))
        outputs: dict[str, str] = {}
        exporters = {}
        for area in AREAS:
            exporter = exporter_factory(area, cfg, "--log.level", "debug", env=env)
            exporters[area] = exporter
            for _ in range(2):
                outputs[f"{area} /metrics"] = exporter.get(
                    "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "3"}
                ).text
            for path in ("/", "/-/healthy", "/-/ready"):
                outputs[f"{area} {path}"] = exporter.get(path).text
        metrics = outputs["all /metrics"]
        assert 'aftercare_database_up{database="pg-ok",system="billing"} 1.0' in metrics
        assert 'aftercare_database_up{database="pg-wrong",system="billing"} 0.0' in metrics
        assert 'aftercare_database_up{database="my-wrong",system="billing"} 0.0' in metrics
        assert 'aftercare_integration_up{integration="erp-ok",system="billing"} 1.0' in metrics

        # a reload into a config whose only mistake sits next to a secret, and back
        good = cfg.read_text()
        bad = dict(config)
        bad["systems"] = [
            dict(
                config["systems"][0],
                databases=[
                    {
                        "name": "pg-bad",
                        "type": "postgresql",
                        "dsn": f"postgresql://monitor:{secrets['bad_config']}@127.0.0.1:notaport/x",
                    }
                ],
            )
        ]
        cfg.write_text(yaml.safe_dump(bad))
        for area, exporter in exporters.items():
            answer = exporter.post("/-/reload")
            assert answer.status_code == 500 and "dsn" in answer.text, answer.text
            outputs[f"{area} bad reload"] = answer.text
        cfg.write_text(good)
        for exporter in exporters.values():
            assert exporter.post("/-/reload").status_code == 200
        # the database stops: every target fails the other way
        pg.stop()
        for area, exporter in exporters.items():
            outputs[f"{area} /metrics db down"] = exporter.get("/metrics").text

        # a bad config at start, and check-config, on the same file
        cfg_bad = tmp_path / "bad.yml"
        cfg_bad.write_text(yaml.safe_dump(bad))
        for argv in (
            [
                sys.executable,
                "-m",
                "exporters.cli",
                "database",
                "--config.file",
                str(cfg_bad),
                "--web.listen-address",
                f"127.0.0.1:{free_port()}",
                "--log.level",
                "debug",
            ],
            [sys.executable, "-m", "exporters.cli", "check-config", str(cfg_bad)],
        ):
            run = subprocess.run(
                argv,
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, **env},
            )
            assert run.returncode == 2, run.stderr
            outputs[" ".join(argv[3:5]) + " output"] = run.stdout + run.stderr

        # aftercare-report: Prometheus down, then up, with credentials in the URL and a file
        auth_file = tmp_path / "basic"
        auth_file.write_text(f"reporter:{secrets['report_basic']}\n")
        out_dir = tmp_path / "report"
        down = subprocess.run(
            [
                sys.executable,
                "-m",
                "reportgen.cli",
                "--prometheus",
                f"http://reporter:{secrets['report_basic']}@{closed}",
                "--config.file",
                str(cfg),
                "--period",
                "2026-10",
                "--format",
                "json,md",
                "--out",
                str(out_dir),
                "--retries",
                "0",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )
        assert down.returncode != 0
        outputs["report, Prometheus down"] = down.stdout + down.stderr
        prom = prometheus_factory(
            scrape_configs=[
                {
                    "job_name": "aftercare-all",
                    "static_configs": [{"targets": [exporters["all"].address]}],
                }
            ]
        )
        wait_until(lambda: prom.query("aftercare_database_up"), 30, what="a scrape stored")
        today = dt.date.today()
        up = subprocess.run(
            [
                sys.executable,
                "-m",
                "reportgen.cli",
                "--prometheus",
                prom.url,
                "--basic-auth-file",
                str(auth_file),
                "--config.file",
                str(cfg),
                "--from",
                today.isoformat(),
                "--to",
                today.isoformat(),
                "--format",
                "json,md,html",
                "--lang",
                "en",
                "--out",
                str(out_dir),
                "--no-previous",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **env},
        )
        assert up.returncode == 0, up.stderr[-2000:]
        outputs["report, Prometheus up"] = up.stdout + up.stderr
        written = sorted(p for p in out_dir.rglob("*") if p.is_file())
        assert any(p.suffix == ".json" for p in written)
        for path in written:
            outputs[f"report file {path.name}"] = path.read_bytes().decode("utf-8", "replace")
        for area, exporter in exporters.items():
            outputs[f"{area} log"] = exporter.stderr_text() + exporter.stdout_text()
        assert "level=debug" in outputs["all log"]

        # aftercare-notify: failing deliveries, bad requests, a bad reload, the test command
        with NotifyProcess(cfg, extra=("--log.level", "debug"), env=env) as notify:
            page = {
                "status": "firing",
                "groupKey": "k",
                "alerts": [
                    {"status": "firing", "labels": {"alertname": "X", "severity": "critical"}}
                ],
            }
            outputs["notify 200"] = notify.post("oncall", page).text
            outputs["notify 404"] = notify.post("nosuch", page).text
            outputs["notify 400"] = notify.post("oncall", b"{broken").text
            wait_until(
                lambda: (
                    notify.metric(
                        "aftercare_notify_messages_total", channel="oncall", result="failed"
                    )
                    >= 2
                ),
                20,
                what="failed deliveries",
            )
            outputs["notify /metrics"] = notify.metrics_text()
            cfg.write_text(yaml.safe_dump(bad))
            outputs["notify bad reload"] = requests.post(notify.url + "/-/reload", timeout=10).text
            cfg.write_text(good)
            outputs["notify log"] = notify.stderr_text() + notify.stdout_text()
        assert "delivery failed; will retry" in outputs["notify log"]
        test = subprocess.run(
            [
                sys.executable,
                "-m",
                "exporters.notify.cli",
                "test",
                "--config.file",
                str(cfg),
                "--channel",
                "oncall",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        assert test.returncode == 1
        outputs["notify test"] = test.stdout + test.stderr

    hits = [
        (where, name)
        for where, text in outputs.items()
        for name, value in secrets.items()
        if value in text
    ]
    assert hits == [], hits
    # the failures were there to be hidden: the logs name them without the secret
    assert "password authentication failed" in outputs["all log"] or "auth" in outputs["all log"]
