"""``--http.config.file``: how to reach a protected Prometheus, in the prometheus/common format.

The same file ``promtool --http.config.file`` reads.  Supported keys:

* ``basic_auth``: ``username`` or ``username_file``, ``password`` or ``password_file``
* ``authorization``: ``type`` (default ``Bearer``), ``credentials`` or ``credentials_file``
* ``bearer_token``, ``bearer_token_file`` (the older spelling of ``authorization``)
* ``tls_config``: ``ca_file`` or ``ca``, ``cert_file`` or ``cert``, ``key_file`` or ``key``,
  ``server_name``, ``insecure_skip_verify``, ``min_version``, ``max_version``
  (``TLS10`` .. ``TLS13``; the minimum defaults to ``TLS12``)
* ``proxy_url`` (with ``no_proxy``), or ``proxy_from_environment``
* ``follow_redirects`` (default true)
* ``enable_http2``: accepted; requests are sent over HTTP/1.1

``oauth2``, ``http_headers``, ``proxy_connect_header`` and the ``*_ref`` keys are refused
with a message saying so; any other key is refused as unknown.  Files are read once, when
the config is loaded; relative names are resolved against the config file's directory.
Every mistake is a :class:`ConfigError` naming the file and the key path; the value of a
password, token or key never appears in a message or a ``repr()``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import ssl
import tempfile
import warnings
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from exporters.config import Secret
from exporters.schema import Bool, ConfigError, Spec, Str, Struct, Url, describe
from exporters.yamlstrict import read_yaml

__all__ = [
    "HTTPClientConfig",
    "TLSConfig",
    "load_http_config",
    "build_session",
    "check_ca_file",
    "ConfigError",
]

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


# --- the model ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BasicAuth:
    username: str
    password: Secret | None


@dataclasses.dataclass(frozen=True)
class Authorization:
    type: str
    credentials: Secret | None


@dataclasses.dataclass(frozen=True)
class TLSConfig:
    ca_file: str | None = None
    ca: str | None = dataclasses.field(default=None, repr=False)
    cert_file: str | None = None
    cert: str | None = dataclasses.field(default=None, repr=False)
    key_file: str | None = None
    key: Secret | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: str = "TLS12"
    max_version: str | None = None


@dataclasses.dataclass(frozen=True)
class HTTPClientConfig:
    """Auth, TLS, proxy and redirects for the client that queries Prometheus."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig | None = None
    proxy_url: str | None = None
    no_proxy: str | None = None
    proxy_from_environment: bool = False
    follow_redirects: bool = True
    enable_http2: bool = True
    file: str | None = None

    @classmethod
    def from_shorthands(
        cls,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_file: str | None = None,
    ) -> HTTPClientConfig:
        """What --bearer-token-file, --basic-auth-file and --ca-file stand for.

        The environment's proxy settings apply, as they always have for these flags.
        """
        return cls(
            basic_auth=BasicAuth(basic_auth[0], Secret(basic_auth[1], "--basic-auth-file"))
            if basic_auth
            else None,
            authorization=Authorization("Bearer", Secret(bearer_token, "--bearer-token-file"))
            if bearer_token
            else None,
            tls_config=TLSConfig(ca_file=ca_file) if ca_file else None,
            proxy_from_environment=True,
        )


# --- schema ------------------------------------------------------------------------------


def _secret(what: str):
    """An inline secret: a non-empty string, never echoed."""

    def check(value, path):
        if not isinstance(value, str) or not value:
            raise ConfigError(path, f"expected {what} (a non-empty string; the value is not shown)")
        return Secret(value, ".".join(map(str, path)))

    return check


def _file(base_dir: str, what: str):
    """A readable, non-empty file; returns its full name."""

    def check(value, path):
        Str(what=f"the file name of {what}")(value, path)
        full = os.path.normpath(os.path.join(base_dir, value))
        try:
            with open(full, "rb") as fh:
                data = fh.read(1 << 20)
        except OSError as err:
            raise ConfigError(path, f"cannot read {what} {full}: {err.strerror}") from None
        if not data.strip():
            raise ConfigError(path, f"{what} {full} is empty")
        return full

    return check


def _read_text(full: str, path: tuple, what: str) -> str:
    try:
        with open(full, encoding="utf-8") as fh:
            return fh.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or "not UTF-8 text"
        raise ConfigError(path, f"cannot read {what} {full}: {reason}") from None


def _pem(what: str):
    def check(value, path):
        if not isinstance(value, str) or "-----BEGIN" not in value:
            raise ConfigError(path, f"expected {what} as PEM text (-----BEGIN ...)")
        return value

    return check


def _version(value, path):
    if value not in TLS_VERSIONS:
        raise ConfigError(path, f"expected one of {', '.join(TLS_VERSIONS)}, got {describe(value)}")
    return value


def _unsupported(reason: str):
    def check(value, path):
        raise ConfigError(path, f"not supported by aftercare-report: {reason}")

    return check


_REF = _unsupported("secret references; use the _file key")


def _only_one(raw: dict, path: tuple, *keys: str) -> None:
    given = [k for k in keys if raw.get(k) is not None]
    if len(given) > 1:
        raise ConfigError(path + (given[1],), f"at most one of {' and '.join(keys)} may be set")


def _schema(base_dir: str):
    def basic_auth(raw, path):
        if isinstance(raw, dict):
            _only_one(raw, path, "username", "username_file")
            _only_one(raw, path, "password", "password_file")
        v = Struct(
            dict,
            {
                "username": Spec(Str(what="a user name")),
                "username_file": Spec(_file(base_dir, "the user name file")),
                "username_ref": Spec(_REF),
                "password": Spec(_secret("a password")),
                "password_file": Spec(_file(base_dir, "the password file")),
                "password_ref": Spec(_REF),
            },
        )(raw, path)
        username = v["username"] or (
            _read_text(v["username_file"], path + ("username_file",), "the user name file")
            if v["username_file"]
            else None
        )
        if not username:
            raise ConfigError(path + ("username",), "required key is missing")
        password = v["password"]
        if v["password_file"]:
            password = Secret(
                _read_text(v["password_file"], path + ("password_file",), "the password file"),
                f"password_file {v['password_file']}",
            )
        return BasicAuth(username, password)

    def authorization(raw, path):
        if isinstance(raw, dict):
            _only_one(raw, path, "credentials", "credentials_file")
        v = Struct(
            dict,
            {
                "type": Spec(Str(r"\S+", "an authorization scheme like Bearer"), default="Bearer"),
                "credentials": Spec(_secret("the credentials")),
                "credentials_file": Spec(_file(base_dir, "the credentials file")),
                "credentials_ref": Spec(_REF),
            },
        )(raw, path)
        if v["type"].lower() == "basic":
            raise ConfigError(path + ("type",), 'the type cannot be "Basic"; use basic_auth')
        credentials = v["credentials"]
        if v["credentials_file"]:
            credentials = Secret(
                _read_text(
                    v["credentials_file"], path + ("credentials_file",), "the credentials file"
                ),
                f"credentials_file {v['credentials_file']}",
            )
        return Authorization(v["type"], credentials)

    def tls_config(raw, path):
        if isinstance(raw, dict):
            for a, b in (("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")):
                _only_one(raw, path, a, b)
        v = Struct(
            dict,
            {
                "ca_file": Spec(_file(base_dir, "the CA file")),
                "ca": Spec(_pem("the CA certificate(s)")),
                "ca_ref": Spec(_REF),
                "cert_file": Spec(_file(base_dir, "the client certificate")),
                "cert": Spec(_pem("the client certificate")),
                "cert_ref": Spec(_REF),
                "key_file": Spec(_file(base_dir, "the client key")),
                "key": Spec(_secret("the client key as PEM text")),
                "key_ref": Spec(_REF),
                "server_name": Spec(Str(what="a server name")),
                "insecure_skip_verify": Spec(Bool(), default=False),
                "min_version": Spec(_version, default="TLS12"),
                "max_version": Spec(_version),
            },
        )(raw, path)
        v = {k: x for k, x in v.items() if not k.endswith("_ref")}
        has_cert, has_key = bool(v["cert"] or v["cert_file"]), bool(v["key"] or v["key_file"])
        if has_cert != has_key:
            missing = "key_file" if has_cert else "cert_file"
            raise ConfigError(
                path + (missing,),
                "a client certificate needs its key, and a key "
                "its certificate (cert_file and key_file)",
            )
        if v["max_version"] and TLS_VERSIONS[v["max_version"]] < TLS_VERSIONS[v["min_version"]]:
            raise ConfigError(
                path + ("max_version",),
                f"{v['max_version']} is lower than min_version {v['min_version']}",
            )
        return TLSConfig(**v)

    def top(raw, path):
        if isinstance(raw, dict):
            _only_one(raw, path, "bearer_token", "bearer_token_file")
            _only_one(raw, path, "basic_auth", "authorization", "bearer_token", "bearer_token_file")
            if raw.get("proxy_url") is not None and raw.get("proxy_from_environment") is True:
                raise ConfigError(
                    path + ("proxy_from_environment",),
                    "proxy_url and proxy_from_environment cannot both be set",
                )
        v = Struct(
            dict,
            {
                "basic_auth": Spec(basic_auth),
                "authorization": Spec(authorization),
                "bearer_token": Spec(_secret("a bearer token")),
                "bearer_token_file": Spec(_file(base_dir, "the bearer token file")),
                "tls_config": Spec(tls_config),
                "proxy_url": Spec(Url("http", "https", "socks5", "socks5h")),
                "no_proxy": Spec(Str(what="a comma list of hosts, domains or networks")),
                "proxy_from_environment": Spec(Bool(), default=False),
                "follow_redirects": Spec(Bool(), default=True),
                "enable_http2": Spec(Bool(), default=True),
                "oauth2": Spec(_unsupported("OAuth 2.0; use authorization or basic_auth")),
                "http_headers": Spec(_unsupported("custom headers")),
                "proxy_connect_header": Spec(_unsupported("proxy CONNECT headers")),
            },
        )(raw, path)
        if v["no_proxy"] and not v["proxy_url"]:
            raise ConfigError(path + ("no_proxy",), "needs proxy_url")
        auth = v["authorization"]
        if v["bearer_token"]:
            auth = Authorization("Bearer", v["bearer_token"])
        elif v["bearer_token_file"]:
            auth = Authorization(
                "Bearer",
                Secret(
                    _read_text(
                        v["bearer_token_file"],
                        path + ("bearer_token_file",),
                        "the bearer token file",
                    ),
                    "bearer_token_file",
                ),
            )
        for gone in (
            "bearer_token",
            "bearer_token_file",
            "oauth2",
            "http_headers",
            "proxy_connect_header",
        ):
            v.pop(gone)
        return HTTPClientConfig(**{**v, "authorization": auth})

    return top


# --- loading -----------------------------------------------------------------------------


def load_http_config(path: str) -> HTTPClientConfig:
    """Read and validate an HTTP client config file; ConfigError naming the file and key."""
    raw = read_yaml(path, "HTTP client config file")  # the strict reader of aftercare.yml
    try:
        config = _schema(os.path.dirname(os.path.abspath(path)))({} if raw is None else raw, ())
        if config.tls_config:
            _shared_context(config.tls_config)  # a bad certificate or key fails here, not later
        return dataclasses.replace(config, file=path)
    except ConfigError as err:
        err.file = path
        raise


# --- the session -------------------------------------------------------------------------


def _write_private(directory: str, name: str, text: str) -> str:
    full = os.path.join(directory, name)
    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return full


def _no_password():
    raise ConfigError(
        ("tls_config", "key_file"), "the private key is encrypted; an unencrypted PEM key is needed"
    )


def ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """The client context: trusted CAs, client certificate, versions, verification."""
    path = ("tls_config",)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():  # TLS10/TLS11 are deprecated, but asked for
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = TLS_VERSIONS[tls.min_version]
        if tls.max_version:
            ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        if tls.ca_file:
            ctx.load_verify_locations(cafile=tls.ca_file)
        elif tls.ca:
            ctx.load_verify_locations(cadata=tls.ca)
        else:
            ctx.load_default_certs()
    except (ssl.SSLError, ValueError):
        key = "ca_file" if tls.ca_file else "ca"
        raise ConfigError(path + (key,), "expected PEM CA certificate(s)") from None
    except OSError as err:
        raise ConfigError(path + ("ca_file",), f"cannot read the CA file: {err.strerror}") from None
    if tls.cert_file or tls.cert:
        with tempfile.TemporaryDirectory(prefix="aftercare-tls-") as tmp:
            # the loader accepts a certificate (file or PEM) only together with its key
            cert_path, key_path = tls.cert_file, tls.key_file
            if not cert_path:
                assert tls.cert is not None
                cert_path = _write_private(tmp, "cert.pem", tls.cert)
            if not key_path:
                assert tls.key is not None
                key_path = _write_private(tmp, "key.pem", tls.key.reveal())
            try:
                ctx.load_cert_chain(cert_path, key_path, password=_no_password)
            except ssl.SSLError as err:
                raise ConfigError(
                    path + ("key_file" if tls.key_file else "key",),
                    "expected a PEM client certificate and the private key that "
                    f"matches it ({err.reason or 'not PEM'})",
                ) from None
            except OSError as err:
                raise ConfigError(
                    path + ("cert_file",),
                    f"cannot read the client certificate or key: {err.strerror}",
                ) from None
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@functools.lru_cache(maxsize=16)
def _shared_context(tls: TLSConfig) -> ssl.SSLContext:
    """One context per TLS config, shared by the sessions of every thread (files read once)."""
    return ssl_context(tls)


def check_ca_file(ca_file: str) -> None:
    """``--ca-file``: ValueError (naming the flag) unless it holds PEM CA certificates."""
    try:
        _shared_context(TLSConfig(ca_file=ca_file))
    except ConfigError as err:
        raise ValueError(f"--ca-file {ca_file}: {err.message}") from None


class _TLSAdapter(HTTPAdapter):
    """Every HTTPS connection uses one prepared SSL context (and server_name, if set)."""

    def __init__(self, tls: TLSConfig, **kw: Any):
        self._ctx = _shared_context(tls)
        self._server_name = tls.server_name
        self._cert_reqs = "CERT_NONE" if tls.insecure_skip_verify else "CERT_REQUIRED"
        super().__init__(**kw)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        pool = {"ssl_context": self._ctx, "cert_reqs": self._cert_reqs}
        if self._server_name and self._cert_reqs == "CERT_REQUIRED":
            pool.update(server_hostname=self._server_name, assert_hostname=self._server_name)
        elif self._server_name:
            pool["server_hostname"] = self._server_name
        return host_params, pool

    def cert_verify(self, conn, url, verify, cert):
        conn.cert_reqs = self._cert_reqs  # everything else is in the context
        conn.ca_certs = conn.ca_cert_dir = None


class _NoRedirects(requests.Session):
    """A 3xx answer is returned as it is (follow_redirects: false)."""

    def resolve_redirects(self, *args, **kwargs):
        return iter(())


def build_session(config: HTTPClientConfig, url: str) -> requests.Session:
    """A requests session that reaches ``url`` as ``config`` says."""
    session = requests.Session() if config.follow_redirects else _NoRedirects()
    session.trust_env = config.proxy_from_environment
    if config.basic_auth:
        password = config.basic_auth.password.reveal() if config.basic_auth.password else ""
        session.auth = (config.basic_auth.username, password)
    if config.authorization and config.authorization.credentials:
        session.headers["Authorization"] = (
            f"{config.authorization.type} {config.authorization.credentials.reveal()}"
        )
    if config.tls_config:
        session.mount("https://", _TLSAdapter(config.tls_config))
        if config.tls_config.insecure_skip_verify:
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    if config.proxy_url and not (
        config.no_proxy and requests.utils.should_bypass_proxies(url, no_proxy=config.no_proxy)
    ):
        session.proxies = {"http": config.proxy_url, "https": config.proxy_url}
    return session
