"""``--web.config.file``: TLS and basic auth in the Prometheus exporter-toolkit format.

prometheus_client has neither a server-side TLS config file nor basic auth, so
this module is the glue: it validates the file strictly (unknown keys, missing
or unreadable files and bad values are :class:`~exporters.schema.ConfigError`
naming the file and the key path), builds the server :class:`ssl.SSLContext`
and checks ``Authorization: Basic`` headers against bcrypt hashes.

The format is the exporter-toolkit's, so one ``web.yml`` serves both the Go
exporters and ours.  Where Python's ``ssl`` module cannot do what a key asks,
the key is refused with a message saying so, never silently ignored:

* ``client_auth_type``: ``NoClientCert``, ``VerifyClientCertIfGiven`` and
  ``RequireAndVerifyClientCert`` behave as in Go.  ``RequestClientCert`` is
  accepted and served like ``NoClientCert`` (Go asks for a certificate but
  neither verifies nor uses it, so who gets in is the same).
  ``RequireAnyClientCert`` (and its old name ``RequireClientCert``) is refused:
  Python cannot require a client certificate without verifying it.  The two
  ``Verify*`` types need ``client_ca_file`` (or ``client_ca``); Go would fall
  back to the system roots, which would let in any publicly issued certificate.
* ``client_allowed_sans``: checked right after the handshake (an exact match
  against the client certificate's DNS, IP, e-mail or URI SANs); needs
  ``RequireAndVerifyClientCert``.
* ``cipher_suites``: the Go names (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``...)
  are translated to OpenSSL names and applied to TLS 1.2 and below, in the
  order given.  TLS 1.3 suite names are accepted and, as in Go, have no
  effect: TLS 1.3 suites are not configurable.
* ``curve_preferences``: Python's ``ssl`` can restrict key exchange to one
  curve only, so a single curve is applied and a list of several is refused.
* ``http_server_config.http2`` is accepted and ignored: we serve HTTP/1.1.
* ``http_server_config.headers``: the five headers the exporter-toolkit
  allows (same value rules); a blank value means "not set".
* ``rate_limit`` is refused (not implemented).
* The certificate and key are read once, at load; to pick up renewed
  certificates, load the file again (the exporter-toolkit re-reads them on
  each connection).

Relative file names are resolved against the directory of the web config file.
No password or hash is ever part of an error, a ``repr()`` or ``describe()``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import hmac
import ipaddress
import os
import re
import ssl
import tempfile
import threading
import warnings
from collections import OrderedDict
from typing import Any, NamedTuple, cast

import bcrypt

from .schema import Bool, ConfigError, Enum, ListOf, Str, Struct, describe, f, relative_to, resolve
from .yamlstrict import read_yaml

__all__ = ["WebConfig", "load_web_config", "AuthCacheInfo", "ConfigError"]

AUTH_CACHE_SIZE = 1024
AUTH_REALM = "aftercare"
_MAX_AUTH_HEADER = 4096

# --- the format's vocabulary ---------------------------------------------------------

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "RequireClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
_VERIFY_MODES = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,  # see the module docstring
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go crypto/tls cipher suite name -> OpenSSL name (TLS 1.2 and below).
CIPHER_SUITES = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
TLS13_CIPHER_SUITES = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
)

# Go crypto/tls curve name -> OpenSSL group name.
CURVES = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}

# The response headers the exporter-toolkit lets a web config set, with the
# values allowed where the header has a fixed vocabulary.
HEADERS = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}

_BCRYPT = re.compile(r"\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}")


# --- the keys' validators --------------------------------------------------------------


def _pem_text(what: str) -> Any:
    """Inline PEM text; the value is never echoed (it may be a private key)."""

    def check(value, path):
        if not isinstance(value, str) or "-----BEGIN" not in value:
            raise ConfigError(path, f"expected {what} as PEM text (-----BEGIN ...)")
        return value

    return check


def _readable_file(what: str) -> Any:
    def check(value, path):
        Str(what=f"the file name of {what}")(value, path)
        full = os.path.normpath(resolve(value))
        try:
            with open(full, "rb") as fh:
                data = fh.read(1 << 20)
        except OSError as err:
            raise ConfigError(path, f"cannot read {what} {full}: {err.strerror}") from err
        if not data.strip():
            raise ConfigError(path, f"{what} {full} is empty")
        return full

    return check


def _one_of_names(names, what: str) -> Any:
    def check(value, path):
        if value not in names:
            raise ConfigError(
                path, f"unknown {what} {describe(value)}; expected one of " + ", ".join(names)
            )
        return value

    return check


def _headers(value, path):
    if not isinstance(value, dict):
        raise ConfigError(
            path, f"expected a mapping of header name to value, got {describe(value)}"
        )
    out = {}
    for name, text in value.items():
        where = path + (str(name),)
        if name not in HEADERS:
            raise ConfigError(
                where, "this header cannot be configured; expected one of " + ", ".join(HEADERS)
            )
        if text is None or text == "":
            continue  # blank: the header is not set
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise ConfigError(where, f"expected a header value (a string), got {describe(text)}")
        text = str(text)
        if any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in text):
            raise ConfigError(where, "expected a header value without control characters")
        allowed = HEADERS[name]
        if allowed and text not in allowed:
            raise ConfigError(where, f"expected one of {', '.join(allowed)}, got {describe(text)}")
        out[name] = text
    return out


def _users(value, path):
    # Never echo a value here: it is a password hash (or, by mistake, a password).
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else "a single value"
        raise ConfigError(path, f"expected a mapping of user name to bcrypt hash, got {kind}")
    out = {}
    for name, hashed in value.items():
        where = path + (str(name),)
        if not isinstance(name, str) or not name:
            raise ConfigError(where, "expected a user name (a non-empty string)")
        if ":" in name:
            raise ConfigError(where, "a basic auth user name cannot contain ':'")
        match = _BCRYPT.fullmatch(hashed) if isinstance(hashed, str) else None
        if match is None:
            raise ConfigError(
                where,
                "expected a bcrypt hash ($2y$, $2b$ or $2a$, 60 characters, "
                "e.g. from htpasswd -nBC 10 \"\" | tr -d ':\\n'); "
                "the value given is not one (not shown)",
            )
        cost = int(match.group(1))
        if not 4 <= cost <= 31:
            raise ConfigError(where, f"expected a bcrypt cost between 4 and 31, got {cost}")
        out[name] = hashed
    return out


def _unsupported(reason: str) -> Any:
    def check(value, path):
        raise ConfigError(path, f"not supported by aftercare exporters: {reason}")

    return check


def _check_tls(v: dict, path: tuple) -> None:
    if not v["cert_file"] and not v["cert"]:
        raise ConfigError(
            path + ("cert_file",), "required key is missing (or give the PEM inline as cert)"
        )
    if not v["key_file"] and not v["key"]:
        raise ConfigError(
            path + ("key_file",), "required key is missing (or give the PEM inline as key)"
        )
    auth = v["client_auth_type"]
    has_ca = bool(v["client_ca_file"] or v["client_ca"])
    ca_key = "client_ca" if v["client_ca"] else "client_ca_file"
    if auth in ("RequireAnyClientCert", "RequireClientCert"):
        raise ConfigError(
            path + ("client_auth_type",),
            f"{auth} (require a client certificate without verifying it) cannot be "
            "done with Python's ssl module; use RequireAndVerifyClientCert "
            "with client_ca_file",
        )
    if auth in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and not has_ca:
        raise ConfigError(
            path + ("client_ca_file",),
            f"required when client_auth_type is {auth}: the CA that signs the client certificates",
        )
    if has_ca and auth == "NoClientCert":
        raise ConfigError(
            path + (ca_key,),
            "a client CA is set but client_auth_type is NoClientCert; "
            "set client_auth_type: RequireAndVerifyClientCert",
        )
    if v["client_allowed_sans"] and auth != "RequireAndVerifyClientCert":
        raise ConfigError(
            path + ("client_allowed_sans",),
            "needs client_auth_type: RequireAndVerifyClientCert "
            "(a client must present a verified certificate to match against)",
        )
    if TLS_VERSIONS[v["min_version"]] > TLS_VERSIONS[v["max_version"]]:
        raise ConfigError(
            path + ("max_version",),
            f"{v['max_version']} is lower than min_version {v['min_version']}",
        )
    if len(v["curve_preferences"]) > 1:
        raise ConfigError(
            path + ("curve_preferences",),
            "Python's ssl module can restrict key exchange to one curve only; "
            "list a single curve or remove curve_preferences",
        )


# --- the model, each key declared once -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TLSServerConfig:
    cert_file: str | None = f(_readable_file("the server certificate"))
    key_file: str | None = f(_readable_file("the server key"))
    cert: str | None = f(_pem_text("the server certificate"), repr=False)
    key: str | None = f(_pem_text("the server key"), repr=False)
    client_ca: str | None = f(_pem_text("the client CA certificate(s)"), repr=False)
    client_ca_file: str | None = f(_readable_file("the client CA file"))
    client_auth_type: str = f(Enum(*CLIENT_AUTH_TYPES), default="NoClientCert")
    client_allowed_sans: tuple = f(
        ListOf(Str(what="a SAN (DNS name, IP, e-mail or URI)")), default=()
    )
    min_version: str = f(Enum(*TLS_VERSIONS), default="TLS12")
    max_version: str = f(Enum(*TLS_VERSIONS), default="TLS13")
    cipher_suites: tuple = f(
        ListOf(_one_of_names(tuple(CIPHER_SUITES) + TLS13_CIPHER_SUITES, "cipher suite")),
        default=(),
    )
    prefer_server_cipher_suites: bool = f(Bool(), default=True)
    curve_preferences: tuple = f(ListOf(_one_of_names(tuple(CURVES), "curve")), default=())


@dataclasses.dataclass(frozen=True)
class HTTPServerConfig:
    http2: bool = f(Bool(), default=True)
    headers: dict = f(_headers, default={})


@dataclasses.dataclass(frozen=True)
class _Document:
    tls_server_config: TLSServerConfig | None = f(
        Struct(
            TLSServerConfig,
            post=_check_tls,
            exclusive=[("cert_file", "cert"), ("key_file", "key"), ("client_ca_file", "client_ca")],
        )
    )
    http_server_config: HTTPServerConfig | None = f(Struct(HTTPServerConfig))
    basic_auth_users: dict = f(_users, default={}, repr=False)
    rate_limit: Any = f(_unsupported("rate limiting; put a reverse proxy in front if needed"))


_DOCUMENT = Struct(_Document)


class AuthCacheInfo(NamedTuple):
    hits: int  # answered from the cache
    misses: int  # bcrypt checks run
    size: int
    maxsize: int


class WebConfig:
    """A validated web config: the server SSL context, basic auth and extra headers."""

    def __init__(
        self,
        file: str | None = None,
        tls: TLSServerConfig | None = None,
        http: HTTPServerConfig | None = None,
        users: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        auth_cache_size: int = AUTH_CACHE_SIZE,
    ):
        self.file = file
        self.tls = tls
        self.http = http or HTTPServerConfig()
        self._users = {name.encode("utf-8"): h.encode("ascii") for name, h in (users or {}).items()}
        self._user_count = len(self._users)
        self._ssl_context = ssl_context
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = max(1, int(auth_cache_size))
        self._cache_lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()  # one bcrypt at a time: bounds the CPU spent
        self._hits = 0
        self._misses = 0
        self._dummy_hash: bytes | None = None

    # -- TLS --

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server-side context (cert, key, versions, client auth), or None without TLS."""
        return self._ssl_context

    # -- headers --

    @property
    def extra_headers(self) -> dict[str, str]:
        """Headers to add to every response."""
        return dict(self.http.headers)

    # -- basic auth --

    @property
    def auth_required(self) -> bool:
        return self._user_count > 0

    def check_basic_auth(self, authorization_header: str | None) -> bool:
        """True when the ``Authorization`` header carries a configured user and password.

        Always True when no users are configured.  Results (good and bad) are
        cached by a SHA-256 of user, password and hash, so a scrape every few
        seconds costs one bcrypt per distinct credential, not one per request.
        """
        if not self._users:
            return True
        credentials = _parse_basic(authorization_header)
        if credentials is None:
            return False
        user, password = credentials
        found: bytes | None = None
        for name, hashed in self._users.items():  # compare every name, in constant time each
            if hmac.compare_digest(name, user):
                found = hashed
        known = found is not None
        stored = self._dummy() if found is None else found  # same bcrypt cost as a real user
        key = _cache_key(user, password, stored)
        cached = self._cache_get(key)
        if cached is not None:
            return cached and known
        with self._bcrypt_lock:
            cached = self._cache_get(key)  # another thread may have just checked it
            if cached is not None:
                return cached and known
            try:
                ok = bcrypt.checkpw(password, stored)
            except ValueError:  # e.g. a password longer than 72 bytes
                ok = False
            ok = ok and known
            with self._cache_lock:
                self._misses += 1
                self._cache[key] = ok
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return ok

    def cache_info(self) -> AuthCacheInfo:
        with self._cache_lock:
            return AuthCacheInfo(self._hits, self._misses, len(self._cache), self._cache_size)

    def unauthorized_headers(self) -> dict[str, str]:
        """Headers for a 401 answer."""
        return {"WWW-Authenticate": f'Basic realm="{AUTH_REALM}"'}

    def _cache_get(self, key: bytes) -> bool | None:
        with self._cache_lock:
            value = self._cache.get(key)
            if value is not None:
                self._hits += 1
                self._cache.move_to_end(key)
            return value

    def _dummy(self) -> bytes:
        if self._dummy_hash is None:
            cost = max(_bcrypt_cost(h) for h in self._users.values())
            self._dummy_hash = bcrypt.hashpw(os.urandom(18), bcrypt.gensalt(rounds=cost))
        return self._dummy_hash

    # -- logging --

    def describe(self) -> str:
        """One line for the startup log, e.g. 'TLS on, client auth ..., basic auth 2 users'."""
        parts = []
        if self._ssl_context is None:
            parts.append("TLS off")
        else:
            tls = self.tls
            assert tls is not None, "load_web_config builds an SSL context only from a TLS config"
            parts.append(f"TLS on ({tls.min_version}-{tls.max_version})")
            auth = f"client auth {tls.client_auth_type}"
            if tls.client_allowed_sans:
                n = len(tls.client_allowed_sans)
                auth += f" ({n} allowed SAN{'s' if n != 1 else ''})"
            parts.append(auth)
        n = self._user_count
        parts.append(f"basic auth {n} user{'s' if n != 1 else ''}" if n else "basic auth off")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"WebConfig(file={self.file!r}, {self.describe()})"


# --- basic auth helpers ------------------------------------------------------------------


def _parse_basic(header: str | None) -> tuple[bytes, bytes] | None:
    if not header or len(header) > _MAX_AUTH_HEADER:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    return (user, password) if sep else None


def _bcrypt_cost(hashed: bytes) -> int:
    """The cost of a stored hash; _users() accepted only hashes that match _BCRYPT."""
    match = _BCRYPT.fullmatch(hashed.decode("ascii"))
    assert match is not None, "basic_auth_users holds only validated bcrypt hashes"
    return int(match.group(1))


def _cache_key(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


# --- the SSL context -------------------------------------------------------------------------


class _EncryptedKey(Exception):
    pass


def _no_password():
    raise _EncryptedKey()


def _ssl_error(err: ssl.SSLError) -> str:
    return err.reason or err.strerror or type(err).__name__


def _build_context(tls: TLSServerConfig, path: tuple) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # TLS10/TLS11 are deprecated, but asked for
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = TLS_VERSIONS[tls.min_version]
        ctx.maximum_version = TLS_VERSIONS[tls.max_version]

    # certificate first on its own, so that a bad one is reported at its own key
    # _check_tls made sure that one of cert and cert_file, and one of key and key_file, is set
    cert_key = "cert" if tls.cert else "cert_file"
    try:
        if tls.cert:
            cert_pem = tls.cert
        else:
            assert tls.cert_file is not None
            with open(tls.cert_file, encoding="ascii", errors="replace") as fh:
                cert_pem = fh.read()
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=cert_pem)
    except (ssl.SSLError, ValueError) as err:
        raise ConfigError(
            path + (cert_key,), "expected a PEM certificate (-----BEGIN CERTIFICATE-----)"
        ) from err
    except OSError as err:
        raise ConfigError(
            path + (cert_key,), f"cannot read the server certificate: {err.strerror}"
        ) from err

    key_key = "key" if tls.key else "key_file"
    with (
        tempfile.TemporaryDirectory(prefix="aftercare-tls-")
        if (tls.cert or tls.key)
        else contextlib.nullcontext() as tmp
    ):
        cert_file, key_file = tls.cert_file, tls.key_file
        if tmp is not None:  # made when a PEM is given inline
            if tls.cert:
                cert_file = _write_private(tmp, "cert.pem", tls.cert)
            if tls.key:
                key_file = _write_private(tmp, "key.pem", tls.key)
        assert cert_file is not None and key_file is not None
        try:
            ctx.load_cert_chain(cert_file, key_file, password=_no_password)
        except _EncryptedKey:
            raise ConfigError(
                path + (key_key,), "the private key is encrypted; an unencrypted PEM key is needed"
            ) from None
        except ssl.SSLError as err:
            raise ConfigError(
                path + (key_key,),
                f"expected a PEM private key that matches the certificate ({_ssl_error(err)})",
            ) from err
        except OSError as err:
            raise ConfigError(
                path + (key_key,), f"cannot read the server key: {err.strerror}"
            ) from err

    ctx.verify_mode = _VERIFY_MODES[tls.client_auth_type]
    if tls.client_ca or tls.client_ca_file:
        ca_key = "client_ca" if tls.client_ca else "client_ca_file"
        try:
            if tls.client_ca:
                ctx.load_verify_locations(cadata=tls.client_ca)
            else:
                ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (ssl.SSLError, ValueError) as err:
            reason = _ssl_error(err) if isinstance(err, ssl.SSLError) else "no certificate found"
            raise ConfigError(
                path + (ca_key,), f"expected PEM CA certificate(s) ({reason})"
            ) from err
        except OSError as err:
            raise ConfigError(
                path + (ca_key,), f"cannot read the client CA file: {err.strerror}"
            ) from err
        if not ctx.get_ca_certs():
            raise ConfigError(path + (ca_key,), "expected PEM CA certificate(s); none found")

    suites = [CIPHER_SUITES[name] for name in tls.cipher_suites if name in CIPHER_SUITES]
    if suites:
        try:
            ctx.set_ciphers(":".join(suites))
        except ssl.SSLError as err:
            raise ConfigError(
                path + ("cipher_suites",),
                "none of these cipher suites is available in this OpenSSL build",
            ) from err
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.curve_preferences:
        try:
            ctx.set_ecdh_curve(CURVES[tls.curve_preferences[0]])
        except (ValueError, ssl.SSLError) as err:
            raise ConfigError(
                path + ("curve_preferences", 0), "this curve is not available in this OpenSSL build"
            ) from err
    if tls.client_allowed_sans:
        allowed = frozenset(_norm_san(s) for s in tls.client_allowed_sans)
        ctx.sslsocket_class = type(
            "SANCheckingSSLSocket", (_SANCheckingSocket,), {"allowed_sans": allowed}
        )
    return ctx


def _write_private(directory: str, name: str, text: str) -> str:
    full = os.path.join(directory, name)
    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return full


def _norm_san(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return value


class _SANCheckingSocket(ssl.SSLSocket):
    """Ends the connection unless the verified client certificate has an allowed SAN.

    The check runs when the handshake completes (explicitly or on connect), and
    before the first read or write if the handshake was left to happen implicitly.
    """

    allowed_sans: frozenset = frozenset()
    _sans_checked = False

    def do_handshake(self, block=False):
        super().do_handshake(block)
        if not self._sans_checked:
            cert = self.getpeercert() or {}
            # typeshed types every value of the certificate dict alike; this one holds pairs
            sans = cast("tuple[tuple[str, str], ...]", cert.get("subjectAltName", ()))
            names = {
                _norm_san(v) if kind == "IP Address" else v
                for kind, v in sans
                if kind in ("DNS", "IP Address", "email", "URI")
            }
            if not names & self.allowed_sans:
                raise ssl.SSLError(
                    "the client certificate has none of the SANs in client_allowed_sans"
                )
            self._sans_checked = True

    def _handshake_if_pending(self) -> None:
        # _sslobj (None until connected) is private to ssl.SSLSocket, so typeshed leaves it out
        if not self._sans_checked and self._sslobj is not None:  # type: ignore[attr-defined]
            self.do_handshake()

    def read(self, len=1024, buffer=None):
        self._handshake_if_pending()
        return super().read(len, buffer)

    def write(self, data):
        self._handshake_if_pending()
        return super().write(data)

    def send(self, data, flags=0):  # sendall and sendfile go through here
        self._handshake_if_pending()
        return super().send(data, flags)


# --- loading ---------------------------------------------------------------------------------


def load_web_config(path: str | None, *, auth_cache_size: int = AUTH_CACHE_SIZE) -> WebConfig:
    """Read and validate a web config file; ``None`` means no TLS and no auth.

    Every mistake raises :class:`ConfigError` naming the file and the key path.
    """
    if path is None:
        return WebConfig(auth_cache_size=auth_cache_size)
    raw = read_yaml(path, "web config file")
    try:
        with relative_to(path):
            doc = _DOCUMENT({} if raw is None else raw, ())
        ctx = (
            _build_context(doc.tls_server_config, ("tls_server_config",))
            if doc.tls_server_config
            else None
        )
        return WebConfig(
            file=path,
            tls=doc.tls_server_config,
            http=doc.http_server_config,
            users=doc.basic_auth_users,
            ssl_context=ctx,
            auth_cache_size=auth_cache_size,
        )
    except ConfigError as err:
        err.file = path
        raise
