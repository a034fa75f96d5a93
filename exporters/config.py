"""aftercare.yml: the model, its strict schema and ``load_config()``.

One file describes every customer system under support; each exporter reads
the sections of its area.  Each key is declared once, as a field of the model
with its validator and default (see :func:`exporters.schema.f`).  Secrets come
from ``password_file`` or ``password_env`` (or a DSN's own password) and are
held in :class:`Secret`, which never prints its value.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

from .logs.logformat import (
    DECLARED_FORMATS,
    JSON_FIELDS,
    TIME_UNITS,
    LogFormatError,
    compile_format,
)
from .schema import (
    NAME,
    Address,
    Bool,
    ConfigError,
    Cron,
    Duration,
    Encoding,
    Enum,
    ListOf,
    MapOf,
    Number,
    Regex,
    Size,
    Spec,
    Str,
    Struct,
    Timezone,
    Url,
    f,
    relative_to,
    resolve,
)
from .yamlstrict import read_yaml

__all__ = ["ConfigError", "load_config", "Config", "System", "Secret"]


# --- model ---------------------------------------------------------------------


class Secret:
    """A password or token: its value is only handed out by ``reveal()``."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str):
        self._value = value
        self.source = source  # e.g. "password_file /etc/aftercare/db.pass"

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


# --- secrets, DSNs and values read at load time ------------------------------------------

PG_SCHEMES = ("postgresql", "postgres")
MYSQL_SCHEMES = ("mysql", "mariadb")
DEFAULT_LEVELS = {"error": r"ERROR|FATAL|CRITICAL|Exception", "warning": r"WARN"}

# the defaults section of the file being loaded, for keys that fall back to it
_IN_FORCE: contextvars.ContextVar[Defaults] = contextvars.ContextVar("defaults")


def _from_defaults(name: str) -> Callable[[], Any]:
    return lambda: getattr(_IN_FORCE.get(), name)


def _default_levels() -> dict:
    return {k: re.compile(v) for k, v in DEFAULT_LEVELS.items()}


def _read_secret(raw: dict, path: tuple) -> Secret | None:
    if raw.get("password_file"):
        file = resolve(raw["password_file"])
        try:
            with open(file, encoding="utf-8") as fh:
                value = fh.read().rstrip("\r\n")
        except OSError as err:
            raise ConfigError(
                path + ("password_file",),
                f"cannot read the password file {file!r}: {err.strerror}",
            ) from None
        if not value:
            raise ConfigError(path + ("password_file",), f"the password file {file!r} is empty")
        return Secret(value, f"password_file {file}")
    if raw.get("password_env"):
        name = raw["password_env"]
        from_env = os.environ.get(name)
        if not from_env:
            raise ConfigError(
                path + ("password_env",), f"the environment variable {name} is not set or empty"
            )
        return Secret(from_env, f"password_env {name}")
    return None


_SECRET_KEYS = {
    "password_file": Spec(Str(what="a file path")),
    "password_env": Spec(Str(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")),
}
_SECRET_EXCLUSIVE = [("password_file", "password_env")]


def parse_dsn(value: str, path: tuple, schemes: tuple[str, ...]) -> Dsn:
    # PostgreSQL may name a Unix socket directory as ?host=/var/run/postgresql
    Url(*schemes, host_param="host" if schemes == PG_SCHEMES else None)(value, path)
    parts = urlsplit(value)
    password = (
        Secret(unquote(parts.password), f"the password in {'.'.join(map(str, path))}")
        if parts.password
        else None
    )
    database = unquote(parts.path.lstrip("/")) or None
    return Dsn(
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port,
        user=unquote(parts.username) if parts.username else None,
        database=database,
        params=tuple(parse_qsl(parts.query)),
        password=password,
    )


def _with_password(cls: type, url_key: str | None = None, schemes=None, post=None):
    """``cls`` read with password_file/password_env, which become its ``password``.

    With ``url_key``, that key is parsed as a connection URL (``schemes``, or a
    function of the other values giving them) whose own password counts too:
    one of the two, never both.
    """

    def read_password(out, path):
        url = None
        if url_key:
            kinds = schemes(out) if callable(schemes) else schemes
            url = out[url_key] = parse_dsn(out[url_key], path + (url_key,), kinds)
        secret = _read_secret(out, path)
        del out["password_file"], out["password_env"]
        if url and url.password:
            if secret:
                raise ConfigError(
                    path + (url_key,),
                    "the URL carries a password and password_file/"
                    "password_env is set too: keep one",
                )
            secret = url.password
        out["password"] = secret
        if post:
            post(out, path)

    return Struct(cls, extra=_SECRET_KEYS, exclusive=_SECRET_EXCLUSIVE, post=read_password)


# --- the model, each key declared once ------------------------------------------------------

TIMEOUT = Duration(min_seconds=0.1)
FILE_PATH = Str(what="a file path")
LEVELS = MapOf(Regex(), NAME, min_items=1)


@dataclass(frozen=True)
class LogFile:
    path: str = f(FILE_PATH, required=True)
    format: str = f(Enum("auto", "stderr", "csvlog", "jsonlog", "mysql"), default="auto")
    encoding: str = f(Encoding(), default="utf-8")


@dataclass(frozen=True)
class SlowLog:
    """The MySQL/MariaDB slow query log (``slow_query_log_file``)."""

    path: str = f(FILE_PATH, required=True)
    encoding: str = f(Encoding(), default="utf-8")


def _check_database(out: dict, path: tuple) -> None:
    if out["slow_log"] is not None and out["type"] != "mysql":
        raise ConfigError(
            path + ("slow_log",),
            "slow_log is the MySQL/MariaDB slow query log; "
            "PostgreSQL's slow statements are read from its "
            "server log (log:)",
        )


@dataclass(frozen=True)
class Database:
    name: str = f(NAME, required=True)
    type: str = f(Enum("postgresql", "mysql"), required=True)
    dsn: Dsn = f(Str(what="a connection URL"), required=True)
    timeout: float = f(TIMEOUT, default_from=_from_defaults("timeout"))
    password: Secret | None = f()
    log: LogFile | None = f(Struct(LogFile))
    slow_log: SlowLog | None = f(Struct(SlowLog))
    data_path: str | None = f(Str(what="a directory path"))
    top_tables: int = f(Number(int, 0, 500), default=20)
    slow_query: float = f(Duration(), default=30.0)


@dataclass(frozen=True)
class HttpCheck:
    url: str = f(Url("http", "https"), required=True)
    method: str = f(Enum("GET", "HEAD", "POST"), default="GET")
    expect_status: tuple[int, ...] = f(ListOf(Number(int, 100, 599), min_items=1), default=())
    body_regex: re.Pattern | None = f(Regex())
    headers: dict = f(
        MapOf(Str(what="a header value")), default={}, repr=False
    )  # may carry an Authorization token
    follow_redirects: bool = f(Bool(), default=True)
    tls_verify: bool = f(Bool(), default=True)
    ca_file: str | None = f(FILE_PATH)


@dataclass(frozen=True)
class TcpCheck:
    address: str = f(Address(), required=True)
    tls: bool = f(Bool(), default=False)
    send: str | None = f(Str(what="a string to send"))
    expect: re.Pattern | None = f(Regex())
    tls_verify: bool = f(Bool(), default=True)
    ca_file: str | None = f(FILE_PATH)


@dataclass(frozen=True)
class ProcessCheck:
    pattern: re.Pattern | None = f(Regex())
    pidfile: str | None = f(FILE_PATH)


@dataclass(frozen=True)
class StatusCheck:
    """An application server's own status page (nginx stub_status, Apache mod_status ?auto)."""

    type: str = f(Enum("nginx", "apache"), required=True)
    url: str = f(Url("http", "https"), required=True)
    username: str | None = f(Str(what="a user name"))
    password: Secret | None = f()
    tls_verify: bool = f(Bool(), default=True)
    ca_file: str | None = f(FILE_PATH)


_HTTP = Struct(HttpCheck)
_TCP = Struct(TcpCheck)


@dataclass(frozen=True)
class Service:
    name: str = f(NAME, required=True)
    timeout: float = f(TIMEOUT, default_from=_from_defaults("timeout"))
    http: HttpCheck | None = f(_HTTP)
    tcp: TcpCheck | None = f(_TCP)
    process: ProcessCheck | None = f(Struct(ProcessCheck, one_of=("pattern", "pidfile")))
    status: StatusCheck | None = f(_with_password(StatusCheck))

    KINDS = ("http", "tcp", "process", "status")

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k))


@dataclass(frozen=True)
class Route:
    """A named group of request paths of an access log (first match wins)."""

    name: str = f(NAME, required=True)
    path: re.Pattern = f(Regex(), required=True)


@dataclass(frozen=True)
class LogSource:
    source: str = f(NAME, required=True)
    path: str = f(Str(what="a file path or glob"), required=True)
    levels: dict = f(LEVELS, default_from=_default_levels)  # level name -> compiled regex
    # plain: lines by level; combined, nginx, apache, json: an access log
    format: str = f(Enum("plain", "combined", *DECLARED_FORMATS), default="plain")
    log_format: str | None = f(Str(what="the server's log format string"))  # nginx / Apache
    fields: dict | None = f(MapOf(Str(what="a JSON key"), Enum(*JSON_FIELDS), min_items=1))
    time_unit: str = f(Enum(*TIME_UNITS), default="s")  # json: the request time's unit
    encoding: str = f(Encoding(), default="utf-8")
    routes: tuple = f(ListOf(Struct(Route)), default=())  # (name, compiled path regex)
    parser: Callable | None = f()  # compiled once from the above (compile_format)


def _access_format(out: dict, path: tuple) -> None:
    """Compile a declared access log format once; its mistakes name their key."""
    fmt = out["format"]
    if fmt not in DECLARED_FORMATS:
        for key in ("log_format", "fields", "routes"):
            if out[key]:
                raise ConfigError(
                    path + (key,), f"only for format nginx, apache or json, not {fmt}"
                )
        return
    key, other = ("fields", "log_format") if fmt == "json" else ("log_format", "fields")
    if out[other]:
        raise ConfigError(path + (other,), f"not used by format {fmt}; it reads {key}")
    if not out[key]:
        raise ConfigError(path + (key,), f"required by format {fmt}")
    try:
        out["parser"] = compile_format(fmt, out["log_format"], out["fields"], out["time_unit"])
    except LogFormatError as err:
        raise ConfigError(path + (key,), str(err)) from None
    names = [r.name for r in out["routes"]]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(path + ("routes", i, "name"), f"duplicate route name {name!r}")
    out["routes"] = tuple((r.name, r.path) for r in out["routes"])


@dataclass(frozen=True)
class DbLink:
    dsn: Dsn = f(Str(what="a connection URL"), required=True)
    password: Secret | None = f()


@dataclass(frozen=True)
class RedisLink:
    address: str = f(Address(), required=True)
    password: Secret | None = f()
    tls: bool = f(Bool(), default=False)


@dataclass(frozen=True)
class AmqpLink:
    url: Dsn = f(Str(what="a connection URL"), required=True)
    password: Secret | None = f()


@dataclass(frozen=True)
class MqttLink:
    address: str = f(Address(), required=True)
    username: str | None = f(Str(what="a user name"))
    password: Secret | None = f()
    tls: bool = f(Bool(), default=False)


@dataclass(frozen=True)
class DnsLink:
    name: str = f(Str(r"[A-Za-z0-9_.-]+", "a DNS name"), required=True)
    server: str | None = f(Address())
    record: str = f(Enum("A", "AAAA", "CNAME", "MX", "SRV", "TXT"), default="A")


@dataclass(frozen=True)
class Integration:
    name: str = f(NAME, required=True)
    timeout: float = f(TIMEOUT, default_from=_from_defaults("timeout"))
    tcp: TcpCheck | None = f(_TCP)
    http: HttpCheck | None = f(_HTTP)
    postgresql: DbLink | None = f(_with_password(DbLink, "dsn", PG_SCHEMES))
    mysql: DbLink | None = f(_with_password(DbLink, "dsn", MYSQL_SCHEMES))
    redis: RedisLink | None = f(_with_password(RedisLink))
    amqp: AmqpLink | None = f(_with_password(AmqpLink, "url", ("amqp", "amqps")))
    mqtt: MqttLink | None = f(_with_password(MqttLink))
    dns: DnsLink | None = f(Struct(DnsLink))

    PROTOCOLS = ("tcp", "http", "postgresql", "mysql", "redis", "amqp", "mqtt", "dns")

    @property
    def kind(self) -> str:
        return next(k for k in self.PROTOCOLS if getattr(self, k))


@dataclass(frozen=True)
class Outbox:
    path: str = f(Str(what="a directory path"), required=True)
    pattern: str = f(Str(what="a file name pattern like *.xml"), default="*")


@dataclass(frozen=True)
class ExchangeQuery:
    database: str = f(NAME, required=True)  # name of a database of the same system
    sql: str = f(Str(what="an SQL query"), required=True)


@dataclass(frozen=True)
class JobLog:
    """What an exchange job's log may set: it is a log source named after the job."""

    path: str = f(Str(what="a file path or glob"), required=True)
    levels: dict = f(LEVELS, default_from=_default_levels)
    format: str = f(Enum("plain"), default="plain")
    encoding: str = f(Encoding(), default="utf-8")


def _job_log(raw, path) -> LogSource:
    if isinstance(raw, dict) and "source" in raw:
        raise ConfigError(path + ("source",), "unknown key; the job's name is its source name")
    log = Struct(JobLog)(raw, path)
    return LogSource(
        source="", path=log.path, levels=log.levels, format=log.format, encoding=log.encoding
    )


@dataclass(frozen=True)
class Exchange:
    name: str = f(NAME, required=True)
    schedule: str | None = f(Cron())
    max_duration: float | None = f(Duration())
    grace: float = f(Duration(positive=False), default=900.0)
    outbox: Outbox | None = f(Struct(Outbox))
    query: ExchangeQuery | None = f(Struct(ExchangeQuery))
    log: LogSource | None = f(_job_log)


@dataclass(frozen=True)
class PgBackRest:
    stanza: str = f(NAME, required=True)
    command: str = f(Str(what="a command"), default="pgbackrest")


@dataclass(frozen=True)
class Backup:
    name: str = f(NAME, required=True)
    path: str | None = f(Str(what="a file glob like /backups/*.dump"))
    schedule: str | None = f(Cron())
    min_size: int = f(Size(), default=0)
    verify: str = f(Enum("none", "pg_restore", "gzip", "sha256"), default="none")
    grace: float = f(Duration(positive=False), default=3600.0)
    pgbackrest: PgBackRest | None = f(Struct(PgBackRest))


# labels a host's own ``labels`` may not set: the targets file sets them, or Prometheus does
RESERVED_HOST_LABELS = ("system", "host", "role", "job", "instance")
HOST_LABEL = Str(r"[a-zA-Z_][a-zA-Z0-9_]*", "a Prometheus label name")


def _host_labels(value, path) -> dict:
    labels = MapOf(Str(what="a label value"), HOST_LABEL)(value, path)
    for name in labels:
        if name in RESERVED_HOST_LABELS or name.startswith("__"):
            raise ConfigError(
                path + (name,),
                "reserved label: system, host and role come from the "
                "host entry, job and instance from Prometheus",
            )
    return labels


@dataclass(frozen=True)
class Host:
    """A server of the system, watched through the node_exporter at ``address``."""

    name: str = f(NAME, required=True)
    address: str = f(Address(), required=True)
    role: str = f(Enum("app", "db", "web", "other"), default="other")
    labels: dict = f(_host_labels, default={})


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = Str(r"([01]\d|2[0-3]):[0-5]\d|24:00", "a time of day as HH:MM, e.g. 09:00")


def _date(value, path) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(Str(what="a date YYYY-MM-DD")(value, path))
    except ValueError:
        raise ConfigError(path, f"expected a date YYYY-MM-DD, got {value!r}") from None


def _instant(value, path) -> dt.datetime:
    """A moment: RFC 3339, or a local 'YYYY-MM-DD HH:MM' (in the system's time zone)."""
    if isinstance(value, dt.datetime):
        return value
    text = Str(what="a time like 2026-10-05 02:00 or 2026-10-05T02:00:00+08:00")(value, path)
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            path,
            f"expected a time like 2026-10-05 02:00 or 2026-10-05T02:00:00+08:00, got {text!r}",
        ) from None


def _check_hours(out: dict, path: tuple) -> None:
    if out["end"] <= out["start"]:
        raise ConfigError(
            path + ("end",), f"expected a time after start {out['start']}, got {out['end']}"
        )


@dataclass(frozen=True)
class BusinessHours:
    """The hours a contract counts when ``sla.hours`` is ``business`` (the system's time zone)."""

    days: tuple[str, ...] = f(
        ListOf(Enum(*WEEKDAYS), unique=None, min_items=1), default=WEEKDAYS[:5]
    )
    start: str = f(_CLOCK, default="09:00")
    end: str = f(_CLOCK, default="18:00")
    holidays: tuple[dt.date, ...] = f(ListOf(_date), default=())


@dataclass(frozen=True)
class Sla:
    availability: float = f(Number(float, 0, 1, min_exclusive=True), default=0.999)
    response_time: float = f(Duration(), default=2.0)
    slow_is_fault: bool = f(Bool(), default=True)  # the contract: merely slow is a fault
    hours: str = f(Enum("always", "business"), default="always")
    business_hours: BusinessHours = f(
        Struct(BusinessHours, post=_check_hours), default=BusinessHours()
    )


@dataclass(frozen=True)
class Maintenance:
    """Planned work: one-off (``from``/``to``) or recurring (``schedule`` + ``duration``)."""

    reason: str = f(Str(what="the reason for the work"), required=True)
    schedule: str | None = f(Cron())
    duration: float | None = f(Duration())
    start: dt.datetime | None = f()  # ``from``, made aware in the system's time zone
    end: dt.datetime | None = f()  # ``to``


def _check_maintenance(out: dict, path: tuple) -> None:
    out["start"], out["end"] = out.pop("from"), out.pop("to")
    if out["schedule"]:
        if out["start"] or out["end"]:
            raise ConfigError(path, "expected either schedule with duration, or from and to")
        if out["duration"] is None:
            raise ConfigError(path + ("duration",), "required with schedule")
    elif out["start"] is None or out["end"] is None:
        raise ConfigError(path, "expected from and to (or schedule with duration)")
    elif out["duration"] is not None:
        raise ConfigError(path + ("duration",), "only with schedule (from/to give the length)")


_MAINTENANCE = Struct(
    Maintenance, extra={"from": Spec(_instant), "to": Spec(_instant)}, post=_check_maintenance
)


@dataclass(frozen=True)
class Contract:
    """The support contract the report is judged by (its cover page)."""

    number: str = f(Str(what="the contract number"), required=True)
    service_period: str | None = f(Str(what="the contract's service period"))


# --- checks across keys ---------------------------------------------------------------------


def _check_exchange(out: dict, path: tuple) -> None:
    if out["max_duration"] is not None and not out["schedule"]:
        raise ConfigError(path + ("max_duration",), "needs a schedule to be measured against")
    if out["log"] is not None:
        out["log"] = dataclasses.replace(out["log"], source=out["name"])


def _check_backup(out: dict, path: tuple) -> None:
    if out["verify"] != "none" and not out["path"]:
        raise ConfigError(path + ("verify",), "verification needs backup files: set path")


def _localise_maintenance(out: dict, path: tuple) -> None:
    """Naive from/to are in the system's time zone; to after from; one-offs do not overlap."""
    zone = ZoneInfo(out["timezone"])
    windows = []
    for i, w in enumerate(out["maintenance"]):
        if w.start is not None:
            start, end = (t if t.tzinfo else t.replace(tzinfo=zone) for t in (w.start, w.end))
            if end <= start:
                raise ConfigError(
                    path + ("maintenance", i, "to"),
                    f"expected a time after from {start.isoformat()}, got {end.isoformat()}",
                )
            w = dataclasses.replace(w, start=start, end=end)
        windows.append(w)
    one_off = sorted((w.start, w.end, i) for i, w in enumerate(windows) if w.start is not None)
    for (_, end_a, a), (start_b, _, b) in zip(one_off, one_off[1:], strict=False):
        if start_b < end_a:
            raise ConfigError(
                path + ("maintenance", b, "from"),
                f"overlaps maintenance window {a}; expected windows that do not "
                f"overlap (join them into one)",
            )
    out["maintenance"] = tuple(windows)


def _check_system(out: dict, path: tuple) -> None:
    _localise_maintenance(out, path)
    dbs = {d.name for d in out["databases"]}
    for i, job in enumerate(out["exchange"]):
        if job.query and job.query.database not in dbs:
            raise ConfigError(
                path + ("exchange", i, "query", "database"),
                f"no database named {job.query.database!r} in this system "
                f"(known: {', '.join(sorted(dbs)) or 'none'})",
            )


def _database_schemes(out: dict) -> tuple[str, ...]:
    return PG_SCHEMES if out["type"] == "postgresql" else MYSQL_SCHEMES


@dataclass(frozen=True)
class System:
    name: str = f(NAME, required=True)
    customer: str | None = f(Str(what="the customer's name"))
    timezone: str = f(Timezone(), default_from=_from_defaults("timezone"))
    sla: Sla = f(Struct(Sla), default=Sla())
    contract: Contract | None = f(Struct(Contract))
    maintenance: tuple[Maintenance, ...] = f(ListOf(_MAINTENANCE), default=())
    databases: tuple[Database, ...] = f(
        ListOf(
            _with_password(Database, "dsn", _database_schemes, post=_check_database), unique="name"
        ),
        default=(),
    )
    services: tuple[Service, ...] = f(
        ListOf(Struct(Service, one_of=Service.KINDS), unique="name"), default=()
    )
    logs: tuple[LogSource, ...] = f(
        ListOf(Struct(LogSource, post=_access_format), unique="source"), default=()
    )
    integrations: tuple[Integration, ...] = f(
        ListOf(Struct(Integration, one_of=Integration.PROTOCOLS), unique="name"), default=()
    )
    exchange: tuple[Exchange, ...] = f(
        ListOf(Struct(Exchange, post=_check_exchange), unique="name"), default=()
    )
    backups: tuple[Backup, ...] = f(
        ListOf(Struct(Backup, one_of=("path", "pgbackrest"), post=_check_backup), unique="name"),
        default=(),
    )
    hosts: tuple[Host, ...] = f(ListOf(Struct(Host), unique="name"), default=())


@dataclass(frozen=True)
class Defaults:
    timeout: float = f(TIMEOUT, default=5.0)
    timezone: str = f(Timezone(), default="UTC")
    state_dir: str = f(Str(what="a directory path"), default="/var/lib/aftercare")


@dataclass(frozen=True)
class Config:
    file: str
    defaults: Defaults
    systems: tuple[System, ...]
    notify: Any = None  # exporters.notify.model.Notify, read by aftercare-notify

    def system(self, name: str) -> System:
        return next(s for s in self.systems if s.name == name)


_DEFAULTS = Struct(Defaults)
_SYSTEMS = ListOf(Struct(System, post=_check_system), unique="name", min_items=1)


# --- loading ----------------------------------------------------------------------------------


def validate(raw: Any, file: str = "<config>") -> Config:
    """Validate an already-parsed YAML document."""
    if not isinstance(raw, dict):
        raise ConfigError((), "expected a mapping with 'systems' (and optionally 'defaults')")
    for key in raw:
        if key not in ("defaults", "systems", "notify"):
            raise ConfigError((str(key),), "unknown key; expected defaults, systems or notify")
    raw_defaults = raw.get("defaults")
    defaults = _DEFAULTS({} if raw_defaults is None else raw_defaults, ("defaults",))
    token = _IN_FORCE.set(defaults)
    try:
        systems = _SYSTEMS(raw.get("systems"), ("systems",))
    finally:
        _IN_FORCE.reset(token)
    notify = None
    if raw.get("notify") is not None:
        from .notify.model import NOTIFY

        notify = NOTIFY(raw["notify"], ("notify",))
        if notify.state_dir is None:
            notify = dataclasses.replace(
                notify, state_dir=os.path.join(defaults.state_dir, "notify")
            )
    return Config(file=file, defaults=defaults, systems=systems, notify=notify)


def load_config(file: str) -> Config:
    """Read and validate ``file``; every mistake is a :class:`ConfigError` naming it."""
    raw = read_yaml(file, "config file")
    try:
        with relative_to(file):
            return validate(raw, file)
    except ConfigError as err:
        err.file = file
        raise
