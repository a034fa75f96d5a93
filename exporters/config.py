"""aftercare.yml: the model, its strict schema and ``load_config()``.

One file describes every customer system under support; each exporter reads
the sections of its area.  Secrets come from ``password_file`` or
``password_env`` (or a DSN's own password) and are held in :class:`Secret`,
which never prints its value.
"""
from __future__ import annotations

import contextvars
import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from .schema import (NAME, Address, Bool, ConfigError, Cron, Duration, Encoding, Enum, Field,
                     ListOf, MapOf, Number, Regex, Size, Str, Struct, Timezone, Url)

__all__ = ["ConfigError", "load_config", "Config", "System", "Secret"]


# --- model ---------------------------------------------------------------------

class Secret:
    """A password or token: its value is only handed out by ``reveal()``."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str):
        self._value = value
        self.source = source          # e.g. "password_file /etc/aftercare/db.pass"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from {self.source})"

    __str__ = lambda self: "<secret>"  # noqa: E731

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Dsn:
    """A parsed connection URL; ``str()`` is safe to log (no password)."""
    scheme: str
    host: str
    port: int | None
    user: str | None
    database: str | None
    params: tuple[tuple[str, str], ...]
    password: Secret | None = None

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}{port}/{self.database or ''}"


@dataclass(frozen=True)
class LogFile:
    path: str
    format: str
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Database:
    name: str
    type: str
    dsn: Dsn
    timeout: float
    password: Secret | None
    log: LogFile | None
    data_path: str | None
    top_tables: int
    slow_query: float


@dataclass(frozen=True)
class HttpCheck:
    url: str
    method: str
    expect_status: tuple[int, ...]
    body_regex: re.Pattern | None
    headers: dict = field(repr=False)   # may carry an Authorization token
    follow_redirects: bool
    tls_verify: bool
    ca_file: str | None


@dataclass(frozen=True)
class TcpCheck:
    address: str
    tls: bool
    send: str | None
    expect: re.Pattern | None
    tls_verify: bool = True
    ca_file: str | None = None


@dataclass(frozen=True)
class ProcessCheck:
    pattern: re.Pattern | None
    pidfile: str | None


@dataclass(frozen=True)
class Service:
    name: str
    timeout: float
    http: HttpCheck | None
    tcp: TcpCheck | None
    process: ProcessCheck | None

    @property
    def kind(self) -> str:
        return next(k for k in ("http", "tcp", "process") if getattr(self, k))


@dataclass(frozen=True)
class LogSource:
    source: str
    path: str
    levels: dict          # level name -> compiled regex
    format: str           # plain | combined (access log)
    encoding: str = "utf-8"


@dataclass(frozen=True)
class DbLink:
    dsn: Dsn
    password: Secret | None


@dataclass(frozen=True)
class RedisLink:
    address: str
    password: Secret | None
    tls: bool


@dataclass(frozen=True)
class AmqpLink:
    url: Dsn
    password: Secret | None


@dataclass(frozen=True)
class MqttLink:
    address: str
    username: str | None
    password: Secret | None
    tls: bool


@dataclass(frozen=True)
class DnsLink:
    name: str
    server: str | None
    record: str


@dataclass(frozen=True)
class Integration:
    name: str
    timeout: float
    tcp: TcpCheck | None
    http: HttpCheck | None
    postgresql: DbLink | None
    mysql: DbLink | None
    redis: RedisLink | None
    amqp: AmqpLink | None
    mqtt: MqttLink | None
    dns: DnsLink | None

    PROTOCOLS = ("tcp", "http", "postgresql", "mysql", "redis", "amqp", "mqtt", "dns")

    @property
    def kind(self) -> str:
        return next(k for k in self.PROTOCOLS if getattr(self, k))


@dataclass(frozen=True)
class Outbox:
    path: str
    pattern: str


@dataclass(frozen=True)
class ExchangeQuery:
    database: str         # name of a database of the same system
    sql: str


@dataclass(frozen=True)
class Exchange:
    name: str
    schedule: str | None
    max_duration: float | None
    grace: float
    outbox: Outbox | None
    query: ExchangeQuery | None
    log: LogSource | None


@dataclass(frozen=True)
class PgBackRest:
    stanza: str
    command: str


@dataclass(frozen=True)
class Backup:
    name: str
    path: str | None
    schedule: str | None
    min_size: int
    verify: str
    grace: float
    pgbackrest: PgBackRest | None


@dataclass(frozen=True)
class Sla:
    availability: float
    response_time: float


@dataclass(frozen=True)
class System:
    name: str
    customer: str | None
    timezone: str
    sla: Sla
    databases: tuple[Database, ...]
    services: tuple[Service, ...]
    logs: tuple[LogSource, ...]
    integrations: tuple[Integration, ...]
    exchange: tuple[Exchange, ...]
    backups: tuple[Backup, ...]


@dataclass(frozen=True)
class Defaults:
    timeout: float
    timezone: str
    state_dir: str


@dataclass(frozen=True)
class Config:
    file: str
    defaults: Defaults
    systems: tuple[System, ...]

    def system(self, name: str) -> System:
        return next(s for s in self.systems if s.name == name)


# --- secrets and DSNs -------------------------------------------------------------

# relative paths in the config (password_file) are resolved against the
# directory of the config file, as Prometheus does
_BASE_DIR: contextvars.ContextVar[str] = contextvars.ContextVar("base_dir", default=".")


def _read_secret(raw: dict, path: tuple) -> Secret | None:
    if raw.get("password_file"):
        file = os.path.join(_BASE_DIR.get(), raw["password_file"])
        try:
            with open(file, encoding="utf-8") as fh:
                value = fh.read().rstrip("\r\n")
        except OSError as err:
            raise ConfigError(path + ("password_file",),
                              f"cannot read the password file {file!r}: {err.strerror}")
        if not value:
            raise ConfigError(path + ("password_file",), f"the password file {file!r} is empty")
        return Secret(value, f"password_file {file}")
    if raw.get("password_env"):
        name = raw["password_env"]
        value = os.environ.get(name)
        if not value:
            raise ConfigError(path + ("password_env",),
                              f"the environment variable {name} is not set or empty")
        return Secret(value, f"password_env {name}")
    return None


_SECRET_FIELDS = {"password_file": Field(Str(what="a file path")),
                  "password_env": Field(Str(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name"))}
_SECRET_EXCLUSIVE = [("password_file", "password_env")]


def parse_dsn(value: str, path: tuple, schemes: tuple[str, ...]) -> Dsn:
    # PostgreSQL may name a Unix socket directory as ?host=/var/run/postgresql
    Url(*schemes, host_param="host" if schemes == PG_SCHEMES else None)(value, path)
    parts = urlsplit(value)
    password = Secret(unquote(parts.password), f"the password in {'.'.join(map(str, path))}") \
        if parts.password else None
    database = unquote(parts.path.lstrip("/")) or None
    return Dsn(scheme=parts.scheme, host=parts.hostname or "", port=parts.port,
               user=unquote(parts.username) if parts.username else None, database=database,
               params=tuple(parse_qsl(parts.query)), password=password)


def _with_password(cls: type, fields: dict[str, Field], url_key: str | None = None,
                   schemes=None):
    """A struct with password_file/password_env, handing ``password`` to ``cls``.

    With ``url_key``, that key is parsed as a connection URL (``schemes``, or a
    function of the other values giving them) whose own password counts too:
    one of the two, never both.
    """
    all_fields = {**fields, **_SECRET_FIELDS}

    def check(raw, path):
        out = Struct(dict, all_fields, exclusive=_SECRET_EXCLUSIVE)(raw, path)
        url = None
        if url_key:
            kinds = schemes(out) if callable(schemes) else schemes
            url = out[url_key] = parse_dsn(out[url_key], path + (url_key,), kinds)
        secret = _read_secret(out, path)
        del out["password_file"], out["password_env"]
        if url and url.password:
            if secret:
                raise ConfigError(path + (url_key,), "the URL carries a password and password_file/"
                                                     "password_env is set too: keep one")
            secret = url.password
        return cls(password=secret, **out)
    return check


def _url_link(key: str, schemes: tuple[str, ...], cls: type):
    return _with_password(cls, {key: Field(Str(what="a connection URL"), required=True)}, key, schemes)


# --- schema --------------------------------------------------------------------------

DEFAULT_LEVELS = {"error": r"ERROR|FATAL|CRITICAL|Exception", "warning": r"WARN"}
PG_SCHEMES = ("postgresql", "postgres")
MYSQL_SCHEMES = ("mysql", "mariadb")


_HTTP = Struct(HttpCheck, {
    "url": Field(Url("http", "https"), required=True),
    "method": Field(Enum("GET", "HEAD", "POST"), default="GET"),
    "expect_status": Field(ListOf(Number(int, 100, 599), min_items=1), default=()),
    "body_regex": Field(Regex()),
    "headers": Field(MapOf(Str(what="a header value")), default={}),
    "follow_redirects": Field(Bool(), default=True),
    "tls_verify": Field(Bool(), default=True),
    "ca_file": Field(Str(what="a file path")),
})


_TCP = Struct(TcpCheck, {
    "address": Field(Address(), required=True),
    "tls": Field(Bool(), default=False),
    "send": Field(Str(what="a string to send")),
    "expect": Field(Regex()),
    "tls_verify": Field(Bool(), default=True),
    "ca_file": Field(Str(what="a file path")),
})

_PROCESS = Struct(ProcessCheck, {
    "pattern": Field(Regex()),
    "pidfile": Field(Str(what="a file path")),
}, one_of=("pattern", "pidfile"))


def _log_source(cls=LogSource, name_key="source"):
    return Struct(cls, {
        name_key: Field(NAME, required=True),
        "path": Field(Str(what="a file path or glob"), required=True),
        "levels": Field(MapOf(Regex(), NAME, min_items=1), default=None),
        "format": Field(Enum("plain", "combined"), default="plain"),
        "encoding": Field(Encoding(), default="utf-8"),
    }, post=lambda out, path: out.__setitem__(
        "levels", out["levels"] or {k: re.compile(v) for k, v in DEFAULT_LEVELS.items()}))


def _job_log():
    """An exchange job's log: a log source named after the job."""
    def check(raw, path):
        if isinstance(raw, dict) and "source" in raw:
            raise ConfigError(path + ("source",), "unknown key; the job's name is its source name")
        inner = Struct(dict, {
            "path": Field(Str(what="a file path or glob"), required=True),
            "levels": Field(MapOf(Regex(), NAME, min_items=1)),
            "format": Field(Enum("plain"), default="plain"),
            "encoding": Field(Encoding(), default="utf-8"),
        })(raw, path)
        levels = inner["levels"] or {k: re.compile(v) for k, v in DEFAULT_LEVELS.items()}
        return LogSource(source="", path=inner["path"], levels=levels, format=inner["format"],
                         encoding=inner["encoding"])
    return check


def _timeout(defaults: Defaults) -> Field:
    return Field(Duration(min_seconds=0.1), default=defaults.timeout)


def _database(defaults: Defaults):
    return _with_password(Database, {
        "name": Field(NAME, required=True),
        "type": Field(Enum("postgresql", "mysql"), required=True),
        "dsn": Field(Str(what="a connection URL"), required=True),
        "timeout": _timeout(defaults),
        "log": Field(Struct(LogFile, {
            "path": Field(Str(what="a file path"), required=True),
            "format": Field(Enum("auto", "stderr", "csvlog", "jsonlog", "mysql"), default="auto"),
            "encoding": Field(Encoding(), default="utf-8"),
        })),
        "data_path": Field(Str(what="a directory path")),
        "top_tables": Field(Number(int, 0, 500), default=20),
        "slow_query": Field(Duration(), default=30.0),
    }, "dsn", lambda out: PG_SCHEMES if out["type"] == "postgresql" else MYSQL_SCHEMES)


def _service(defaults: Defaults):
    return Struct(Service, {
        "name": Field(NAME, required=True),
        "timeout": _timeout(defaults),
        "http": Field(_HTTP),
        "tcp": Field(_TCP),
        "process": Field(_PROCESS),
    }, one_of=("http", "tcp", "process"))


def _integration(defaults: Defaults):
    return Struct(Integration, {
        "name": Field(NAME, required=True),
        "timeout": _timeout(defaults),
        "tcp": Field(_TCP),
        "http": Field(_HTTP),
        "postgresql": Field(_url_link("dsn", PG_SCHEMES, DbLink)),
        "mysql": Field(_url_link("dsn", MYSQL_SCHEMES, DbLink)),
        "redis": Field(_REDIS),
        "amqp": Field(_url_link("url", ("amqp", "amqps"), AmqpLink)),
        "mqtt": Field(_MQTT),
        "dns": Field(Struct(DnsLink, {
            "name": Field(Str(r"[A-Za-z0-9_.-]+", "a DNS name"), required=True),
            "server": Field(Address()),
            "record": Field(Enum("A", "AAAA", "CNAME", "MX", "SRV", "TXT"), default="A"),
        })),
    }, one_of=Integration.PROTOCOLS)


_REDIS = _with_password(RedisLink, {"address": Field(Address(), required=True),
                                     "tls": Field(Bool(), default=False)})

_MQTT = _with_password(MqttLink, {"address": Field(Address(), required=True),
                                  "tls": Field(Bool(), default=False),
                                  "username": Field(Str(what="a user name"))})


def _exchange(defaults: Defaults):
    def post(out, path):
        if out["max_duration"] is not None and not out["schedule"]:
            raise ConfigError(path + ("max_duration",), "needs a schedule to be measured against")
        if out["log"] is not None:
            out["log"] = dataclasses.replace(out["log"], source=out["name"])

    return Struct(Exchange, {
        "name": Field(NAME, required=True),
        "schedule": Field(Cron()),
        "max_duration": Field(Duration()),
        "grace": Field(Duration(positive=False), default=900.0),
        "outbox": Field(Struct(Outbox, {
            "path": Field(Str(what="a directory path"), required=True),
            "pattern": Field(Str(what="a file name pattern like *.xml"), default="*"),
        })),
        "query": Field(Struct(ExchangeQuery, {
            "database": Field(NAME, required=True),
            "sql": Field(Str(what="an SQL query"), required=True),
        })),
        "log": Field(_job_log()),
    }, post=post)


def _backup(defaults: Defaults):
    def post(out, path):
        if out["verify"] != "none" and not out["path"]:
            raise ConfigError(path + ("verify",), "verification needs backup files: set path")

    return Struct(Backup, {
        "name": Field(NAME, required=True),
        "path": Field(Str(what="a file glob like /backups/*.dump")),
        "schedule": Field(Cron()),
        "min_size": Field(Size(), default=0),
        "verify": Field(Enum("none", "pg_restore", "gzip", "sha256"), default="none"),
        "grace": Field(Duration(positive=False), default=3600.0),
        "pgbackrest": Field(Struct(PgBackRest, {
            "stanza": Field(NAME, required=True),
            "command": Field(Str(what="a command"), default="pgbackrest"),
        })),
    }, one_of=("path", "pgbackrest"), post=post)


def _system(defaults: Defaults):
    def post(out, path):
        dbs = {d.name for d in out["databases"]}
        for i, job in enumerate(out["exchange"]):
            if job.query and job.query.database not in dbs:
                raise ConfigError(path + ("exchange", i, "query", "database"),
                                  f"no database named {job.query.database!r} in this system "
                                  f"(known: {', '.join(sorted(dbs)) or 'none'})")

    return Struct(System, {
        "name": Field(NAME, required=True),
        "customer": Field(Str(what="the customer's name")),
        "timezone": Field(Timezone(), default=defaults.timezone),
        "sla": Field(Struct(Sla, {
            "availability": Field(Number(float, 0, 1, min_exclusive=True), default=0.999),
            "response_time": Field(Duration(), default=2.0),
        }), default=Sla(0.999, 2.0)),
        "databases": Field(ListOf(_database(defaults), unique="name"), default=()),
        "services": Field(ListOf(_service(defaults), unique="name"), default=()),
        "logs": Field(ListOf(_log_source(), unique="source"), default=()),
        "integrations": Field(ListOf(_integration(defaults), unique="name"), default=()),
        "exchange": Field(ListOf(_exchange(defaults), unique="name"), default=()),
        "backups": Field(ListOf(_backup(defaults), unique="name"), default=()),
    }, post=post)


_DEFAULTS = Struct(Defaults, {
    "timeout": Field(Duration(min_seconds=0.1), default=5.0),
    "timezone": Field(Timezone(), default="UTC"),
    "state_dir": Field(Str(what="a directory path"), default="/var/lib/aftercare"),
})


def validate(raw: Any, file: str = "<config>") -> Config:
    """Validate an already-parsed YAML document."""
    if not isinstance(raw, dict):
        raise ConfigError((), "expected a mapping with 'systems' (and optionally 'defaults')")
    for key in raw:
        if key not in ("defaults", "systems"):
            raise ConfigError((str(key),), "unknown key; expected defaults or systems")
    raw_defaults = raw.get("defaults")
    defaults = _DEFAULTS({} if raw_defaults is None else raw_defaults, ("defaults",))
    systems = ListOf(_system(defaults), unique="name", min_items=1)(raw.get("systems"), ("systems",))
    return Config(file=file, defaults=defaults, systems=systems)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping."""


def _no_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found a mapping or list used as a key (an unrendered template?)",
                key_node.start_mark)
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError((), f"line {mark.line + 1}: key {key!r} appears twice in one mapping")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def load_config(file: str) -> Config:
    """Read and validate ``file``; every mistake is a :class:`ConfigError` naming it."""
    try:
        with open(file, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ConfigError((), f"cannot read the config file: {err.strerror}", file)
    token = _BASE_DIR.set(os.path.dirname(os.path.abspath(file)))
    try:
        raw = yaml.load(data.decode("utf-8"), Loader=_StrictLoader)
        return validate(raw, file)
    except ConfigError as err:
        err.file = file
        raise
    except UnicodeDecodeError:
        raise ConfigError((), "the config file is not UTF-8 text", file)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise ConfigError((), f"{where}{problem} (expected valid YAML)", file)
    finally:
        _BASE_DIR.reset(token)
