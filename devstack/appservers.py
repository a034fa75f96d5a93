"""Debian's nginx and Apache on free loopback ports, each in its own temporary directory,
with their status pages on (nginx stub_status, Apache mod_status), for the status checks."""

from __future__ import annotations

import base64
import hashlib

from .process import LocalServer

NGINX_BIN = "/usr/sbin/nginx"
APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"


class Nginx(LocalServer):
    """nginx with ``/status`` (stub_status), ``/page.html`` and ``/slow/`` proxied to
    ``upstream`` (host:port) when given; use as a context manager."""

    name = "nginx"
    ready_path = "/status"

    def __init__(self, upstream: str | None = None, startup_timeout: float = 20.0) -> None:
        self.upstream = upstream
        super().__init__("aftercare-nginx-", startup_timeout)

    def prepare(self) -> None:
        (self.dir / "html").mkdir(exist_ok=True)
        (self.dir / "html" / "page.html").write_text("<html><body>Welcome</body></html>\n")
        self.dir.chmod(0o755)  # nginx's workers (not the master's user) read the pages
        slow = (
            f"location /slow/ {{ proxy_pass http://{self.upstream}; proxy_read_timeout 60s; }}"
            if self.upstream
            else ""
        )
        (self.dir / "nginx.conf").write_text(f"""
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.dir}/html;
        location = /status {{ stub_status; }}
        {slow}
    }}
}}
""")

    def command(self) -> list[str]:
        return [
            NGINX_BIN,
            "-p",
            str(self.dir),
            "-c",
            str(self.dir / "nginx.conf"),
            "-g",
            "daemon off;",
        ]


class Apache(LocalServer):
    """Apache httpd (mpm_event) with ``/server-status`` (mod_status) behind basic auth of
    ``user``/``password``, and ``/page.html``; use as a context manager."""

    name = "apache"
    ready_path = "/page.html"

    def __init__(
        self, user: str = "monitor", password: str = "s3cret-status", startup_timeout: float = 20.0
    ) -> None:
        self.user, self.password = user, password
        super().__init__("aftercare-apache-", startup_timeout)

    def prepare(self) -> None:
        (self.dir / "html").mkdir(exist_ok=True)
        (self.dir / "html" / "page.html").write_text("<html><body>Welcome</body></html>\n")
        digest = base64.b64encode(hashlib.sha1(self.password.encode()).digest()).decode()
        hashed = "{SHA}" + digest  # a throwaway test password: htpasswd's SHA-1 format
        (self.dir / "htpasswd").write_text(f"{self.user}:{hashed}\n")
        modules = [
            "mpm_event",
            "authz_core",
            "authn_core",
            "authn_file",
            "auth_basic",
            "authz_user",
            "status",
        ]
        loads = "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so" for m in modules)
        (self.dir / "httpd.conf").write_text(f"""
{loads}
ServerName 127.0.0.1
ServerRoot {self.dir}
PidFile {self.dir}/httpd.pid
ErrorLog {self.dir}/apache.log
DefaultRuntimeDir {self.dir}
Mutex file:{self.dir}
Listen 127.0.0.1:{self.port}
DocumentRoot {self.dir}/html
ExtendedStatus On
StartServers 1
ServerLimit 2
ThreadsPerChild 10
MaxRequestWorkers 20
<Location "/server-status">
    SetHandler server-status
    AuthType Basic
    AuthName "status"
    AuthUserFile {self.dir}/htpasswd
    Require valid-user
</Location>
""")

    def command(self) -> list[str]:
        return [APACHE_BIN, "-f", str(self.dir / "httpd.conf"), "-DFOREGROUND"]
