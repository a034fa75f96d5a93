"""Access logs in the format the server declares, written by Debian's real nginx and apache2.

Each test starts the server on a free loopback port in a temporary directory,
sends a bounded number of requests (static files, a ``return``, a proxy to a
slow Python backend), reads the log the server wrote and checks that every
request is counted with the time the server itself wrote on its line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from devstack.exporter import ExporterProcess
from devstack.ports import free_port
from devstack.process import spawn, tail, terminate
from exporters.logs import access, logformat

NGINX = "/usr/sbin/nginx"
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")


@pytest.fixture(autouse=True, scope="module")
def _servers_are_installed() -> None:
    """Debian's nginx and apache2 are test dependencies (make system-deps): missing fails."""
    for binary in (NGINX, APACHE):
        assert Path(binary).exists(), f"{binary} is missing: make system-deps installs it"


BACKEND_DELAY = 0.05  # seconds the backend sleeps before answering
N = 4  # requests of each kind

MAIN = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" "$http_x_forwarded_for" $request_time '
    "$upstream_response_time"
)
MAIN_PASTED = (
    "log_format  main  '$remote_addr - $remote_user [$time_local] \"$request\" '\n"
    "                  '$status $body_bytes_sent \"$http_referer\" '\n"
    '                  \'"$http_user_agent" "$http_x_forwarded_for" $request_time '
    "$upstream_response_time';"
)
JSON_FORMAT = (
    '{"status":"$status","request_time":"$request_time",'
    '"upstream_response_time":"$upstream_response_time","uri":"$request_uri",'
    '"agent":"$http_user_agent"}'
)
ROUTES = (("api", re.compile(r"^/api/")), ("static", re.compile(r"^/static/")))


class SlowHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(BACKEND_DELAY)
        body = b"orders\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def backend():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def wait_ready(proc, url: str, log: Path, name: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(log)}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{name} not ready at {url}:\n{tail(log)}")


def wait_lines(path: Path, count: int) -> list[bytes]:
    """The log's lines once it has ``count`` (servers write the line after answering)."""
    deadline = time.monotonic() + 10
    while True:
        lines = path.read_bytes().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def traffic(port: int, health: str) -> dict[str, int]:
    """A bounded set of requests on loopback; returns how many of each route were sent."""
    base = f"http://127.0.0.1:{port}"
    for i in range(N):
        assert requests.get(f"{base}/static/page.html", timeout=5).status_code == 200
        assert requests.get(f"{base}{health}", timeout=5).status_code in (200, 204)
        assert (
            requests.get(
                f"{base}/api/orders?id={i}", timeout=5, headers={"User-Agent": 'quote " in agent'}
            ).status_code
            == 200
        )
    assert requests.get(f"{base}/static/missing.html", timeout=5).status_code == 404
    return {"static": N + 1, "__other__": N, "api": N}


def count(counter, lines: list[bytes]) -> Counter:
    return counter(b"".join(line + b"\n" for line in lines))


def histogram_count(out: Counter, name: str, *labels: str) -> float:
    return out[(name, *labels, "count", "")]


def histogram_sum(out: Counter, name: str, *labels: str) -> float:
    return out[(name, *labels, "sum", "")]


@contextmanager
def nginx(tmp_path: Path, backend_port: int):
    root = tmp_path / "nginx"
    (root / "html" / "static").mkdir(parents=True)
    (root / "html" / "static" / "page.html").write_text("<p>static</p>\n")
    port = free_port()
    temp = "".join(
        f"{kind}_temp_path {root}/{kind};\n    "
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(f"""
user root;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    {temp}
    {MAIN_PASTED}
    log_format js escape=json '{JSON_FORMAT}';
    server {{
        listen 127.0.0.1:{port};
        access_log {root}/main.log main;
        access_log {root}/json.log js;
        root {root}/html;
        location /static/ {{ }}
        location = /health {{ return 204; }}
        location = /ready {{ access_log off; return 204; }}
        location /api/ {{ proxy_pass http://127.0.0.1:{backend_port}; }}
    }}
}}
""")
    log = root / "nginx.out"
    proc = spawn([NGINX, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"], log)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/ready", log, "nginx")  # not logged
        yield port, root
    finally:
        terminate(proc)


def test_nginx_main_format_counts_every_request_with_its_request_time(tmp_path, backend):
    with nginx(tmp_path, backend) as (port, root):
        sent = traffic(port, "/health")
        total = sum(sent.values())
        lines = wait_lines(root / "main.log", total)
        json_lines = wait_lines(root / "json.log", total)
    assert len(lines) == total
    # the log's own fields, read independently: the last two are the two times
    fields = [line.rsplit(b" ", 2) for line in lines]
    request_times = [float(f[1]) for f in fields]
    upstream_times = [float(f[2]) for f in fields if f[2] != b"-"]
    assert len(upstream_times) == sent["api"]
    assert all(t >= BACKEND_DELAY for t in upstream_times)

    counter = access.FormatAccessCounter(logformat.compile_nginx(MAIN_PASTED), ROUTES)
    out = count(counter, lines)
    assert out[(access.UNPARSED,)] == 0
    assert out[(access.REQUESTS, "2xx")] == total - 1
    assert out[(access.REQUESTS, "4xx")] == 1
    assert histogram_count(out, access.DURATION) == total
    assert histogram_sum(out, access.DURATION) == pytest.approx(sum(request_times))
    assert histogram_sum(out, access.DURATION) >= sent["api"] * BACKEND_DELAY
    assert histogram_count(out, access.UPSTREAM) == sent["api"]
    assert histogram_sum(out, access.UPSTREAM) == pytest.approx(sum(upstream_times))
    for route, n in sent.items():
        assert sum(v for k, v in out.items() if k[:2] == (access.ROUTE_REQUESTS, route)) == n
        assert histogram_count(out, access.ROUTE_DURATION, route) == n
    assert histogram_sum(out, access.ROUTE_DURATION, "api") >= sent["api"] * BACKEND_DELAY
    # the unquoted format reads the same lines the same way
    assert count(access.FormatAccessCounter(logformat.compile_nginx(MAIN)), lines) == Counter(
        {k: v for k, v in out.items() if not k[0].startswith("aftercare_http_route")}
    )

    parser = logformat.json_parser(
        {
            "status": "status",
            "request_time": "request_time",
            "upstream_response_time": "upstream_response_time",
            "path": "uri",
        }
    )
    json_out = count(access.FormatAccessCounter(parser, ROUTES), json_lines)
    assert json_out == out


def test_nginx_line_not_in_the_declared_format_is_unparsed(tmp_path, backend):
    with nginx(tmp_path, backend) as (port, root):
        requests.get(f"http://127.0.0.1:{port}/api/x", timeout=5)
        lines = wait_lines(root / "main.log", 1)
    combined_line = lines[0].rsplit(b" ", 2)[0] + b" 0.010"  # not the declared format
    out = count(
        access.FormatAccessCounter(logformat.compile_nginx(MAIN)),
        lines + [combined_line, b"", b"not a log line"],
    )
    assert out[(access.UNPARSED,)] == 3
    assert out[(access.REQUESTS, "2xx")] == 1
    assert histogram_count(out, access.DURATION) == 1


@contextmanager
def apache(backend_port: int):
    # the document root must be readable by the server's user: not under pytest's 0700 tmp dir
    root = Path(tempfile.mkdtemp(prefix="aftercare-apache-"))
    root.chmod(0o755)
    (root / "htdocs" / "static").mkdir(parents=True)
    (root / "htdocs" / "static" / "page.html").write_text("<p>static</p>\n")
    (root / "htdocs" / "health").write_text("ok\n")
    port = free_port()
    modules = "".join(
        f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n"
        for name in ("mpm_prefork", "authz_core", "proxy", "proxy_http", "setenvif")
    )
    (root / "apache2.conf").write_text(f"""
{modules}
ServerRoot {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/apache2.pid
ErrorLog {root}/error.log
User www-data
Group www-data
DocumentRoot {root}/htdocs
<Directory {root}/htdocs>
    Require all granted
</Directory>
ProxyPass /api/ http://127.0.0.1:{backend_port}/api/
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" timed
LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{{User-agent}}i\\" %{{ms}}T" timed_ms
SetEnvIf Request_URI "^/ready$" readiness_probe
CustomLog {root}/timed.log timed env=!readiness_probe
CustomLog {root}/timed_ms.log timed_ms env=!readiness_probe
""")
    log = root / "apache2.out"
    proc = spawn([APACHE, "-X", "-d", str(root), "-f", str(root / "apache2.conf")], log)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/ready", log, "apache2")  # not logged
        yield port, root
    finally:
        terminate(proc)
        shutil.rmtree(root, ignore_errors=True)


def test_apache_logformat_with_microseconds_and_milliseconds(backend):
    with apache(backend) as (port, root):
        sent = traffic(port, "/health")
        total = sum(sent.values())
        timed = wait_lines(root / "timed.log", total)
        timed_ms = wait_lines(root / "timed_ms.log", total)
        with open(root / "apache2.conf") as conf:
            formats = {
                name: fmt
                for fmt, name in re.findall(r"^LogFormat (\".*\") (\w+)$", conf.read(), re.M)
            }
    assert len(timed) == len(timed_ms) == total
    micros = [int(line.rsplit(b" ", 1)[1]) for line in timed]
    millis = [int(line.rsplit(b" ", 1)[1]) for line in timed_ms]

    out = count(
        access.FormatAccessCounter(logformat.compile_apache(formats["timed"]), ROUTES), timed
    )
    assert out[(access.UNPARSED,)] == 0
    assert out[(access.REQUESTS, "2xx")] == total - 1
    assert out[(access.REQUESTS, "4xx")] == 1
    assert histogram_count(out, access.DURATION) == total
    assert histogram_sum(out, access.DURATION) == pytest.approx(sum(micros) / 1e6)
    assert histogram_sum(out, access.ROUTE_DURATION, "api") >= sent["api"] * BACKEND_DELAY
    for route, n in sent.items():
        assert histogram_count(out, access.ROUTE_DURATION, route) == n

    out_ms = count(
        access.FormatAccessCounter(
            logformat.compile_apache("LogFormat " + formats["timed_ms"] + " timed_ms")
        ),
        timed_ms,
    )
    assert out_ms[(access.UNPARSED,)] == 0
    assert histogram_count(out_ms, access.DURATION) == total
    assert histogram_sum(out_ms, access.DURATION) == pytest.approx(sum(millis) / 1e3)
    assert histogram_sum(out_ms, access.DURATION) >= sent["api"] * BACKEND_DELAY


@pytest.mark.parametrize(
    "fmt, named",
    [
        ("$remote_addr $stauts $request_time", "$stauts"),
        ("$remote_addr ${request_tme} $status", "$request_tme"),
        ("$remote_addr$status", "$remote_addr and $status"),
        ("$remote_addr $body_bytes_sent", "no status"),
    ],
)
def test_nginx_format_nginx_cannot_write_is_an_error_naming_it(fmt, named):
    with pytest.raises(logformat.LogFormatError, match=re.escape(named)):
        logformat.compile_nginx(fmt)


@pytest.mark.parametrize(
    "fmt, named",
    [
        ('%h %l %u %t "%r" %>s %b %J', "'%J'"),
        ("%h %>s %{seconds}T", "%{seconds}T"),
        ("%h %>s%D", "%>s and %D"),
        ("%h %b", "no status"),
    ],
)
def test_apache_directive_apache_does_not_know_is_an_error_naming_it(fmt, named):
    with pytest.raises(logformat.LogFormatError, match=re.escape(named)):
        logformat.compile_apache(fmt)


def test_apache_format_checks_with_apache_itself(tmp_path):
    """The directives accepted here are ones Apache accepts too (its config test)."""
    fmt = (
        '%h %a %A %l %u %t %{%d/%b/%Y %T}t \\"%r\\" %>s %<s %s %400,501{Referer}i %!200D '
        "%b %B %D %T %{ms}T %{us}T %{s}T %{X-Id}o %{HOME}e %{note}n %{sid}C %v %V %p %H %m "
        "%U %q %f %I %O %S %X %k %L %P %R %%"
    )
    conf = tmp_path / "check.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\nServerName 127.0.0.1\nListen 127.0.0.1:{free_port()}\n"
        f"LoadModule mpm_prefork_module {APACHE_MODULES}/mod_mpm_prefork.so\n"
        f'ErrorLog {tmp_path}/error.log\nLogFormat "{fmt}" everything\n'
    )
    if Path(APACHE).exists():
        check = subprocess.run(
            [APACHE, "-t", "-d", str(tmp_path), "-f", str(conf)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr
    parser = logformat.compile_apache(f'LogFormat "{fmt}" everything')
    line = (
        b"127.0.0.1 127.0.0.1 127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] 01/Dec/2026 10:00:00 "
        b'"GET /a?b=1 HTTP/1.1" 200 200 200 - - 5 5 1500 0 1 1500 0 - - - - h h 80 HTTP/1.1 '
        b"GET /a ?b=1 /srv/a 10 20 30 + 0 abc 99 - %"
    )
    assert parser(line) == logformat.Entry("2", 0.0015, None, "/a")


def test_services_exporter_serves_declared_formats_promtool_clean(tmp_path, backend):
    state = tmp_path / "state"
    with nginx(tmp_path, backend) as (port, root):
        cfg = {
            "defaults": {"timeout": "3s", "state_dir": str(state)},
            "systems": [
                {
                    "name": "billing",
                    "logs": [
                        {
                            "source": "main",
                            "path": str(root / "main.log"),
                            "format": "nginx",
                            "log_format": MAIN_PASTED,
                            "routes": [
                                {"name": "api", "path": "^/api/"},
                                {"name": "static", "path": "^/static/"},
                            ],
                        },
                        {
                            "source": "json",
                            "path": str(root / "json.log"),
                            "format": "json",
                            "fields": {
                                "status": "status",
                                "request_time": "request_time",
                                "upstream_response_time": "upstream_response_time",
                            },
                        },
                    ],
                }
            ],
        }
        file = tmp_path / "aftercare.yml"
        file.write_text(yaml.safe_dump(cfg))
        with ExporterProcess("services", file) as exporter:
            exporter.metrics_text()
            sent = traffic(port, "/health")
            total = sum(sent.values())
            wait_lines(root / "main.log", total)
            wait_lines(root / "json.log", total)
            text = exporter.metrics_text()
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for source in ("main", "json"):
        labels = f'source="{source}",system="billing"'
        assert f"aftercare_http_request_duration_seconds_count{{{labels}}} {total}.0" in text
        assert f"aftercare_http_upstream_duration_seconds_count{{{labels}}} {sent['api']}.0" in text
        assert f"aftercare_http_unparsed_lines_total{{{labels}}} 0.0" in text
    for route, n in sent.items():
        assert (
            f'aftercare_http_route_request_duration_seconds_count{{route="{route}",'
            f'source="main",system="billing"}} {n}.0'
        ) in text
    assert "aftercare_http_route_requests_total" not in "".join(
        line for line in text.splitlines(keepends=True) if 'source="json"' in line
    )


@pytest.mark.parametrize(
    "source, key, message",
    [
        (
            {"format": "nginx", "log_format": "$remote_addr $stauts"},
            "log_format",
            "unknown nginx variable $stauts",
        ),
        (
            {"format": "apache", "log_format": "%h %>s %J"},
            "log_format",
            "unknown LogFormat directive '%J'",
        ),
        ({"format": "nginx"}, "log_format", "required by format nginx"),
        (
            {"format": "json", "fields": {"status": "s", "duration": "d"}},
            "fields.duration",
            "expected one of",
        ),
        (
            {"format": "combined", "routes": [{"name": "api", "path": "^/api/"}]},
            "routes",
            "only for format nginx, apache or json",
        ),
        (
            {"format": "nginx", "log_format": "$status", "routes": [{"name": "a", "path": "("}]},
            "routes[0].path",
            "regular expression",
        ),
    ],
)
def test_bad_access_format_is_one_line_with_its_key_and_exit_2(tmp_path, source, key, message):
    cfg = {
        "systems": [
            {
                "name": "billing",
                "logs": [{"source": "web", "path": str(tmp_path / "access.log"), **source}],
            }
        ]
    }
    file = tmp_path / "aftercare.yml"
    file.write_text(yaml.safe_dump(cfg))
    result = subprocess.run(
        [sys.executable, "-m", "exporters.cli", "check-config", str(file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"systems[0].logs[0].{key}: " in lines[0]
    assert message in lines[0]
