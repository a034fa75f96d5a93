"""A small strict schema language for aftercare.yml and the web config.

Each validator is a callable ``(value, path) -> converted value`` that raises
:class:`ConfigError` carrying the key path.  A structure is a dataclass whose
fields, declared with :func:`f`, carry their validator and default; ``Struct``
reads a mapping into it and rejects unknown keys, so a typo never silently
turns a check off.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import os
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

Validator = Callable[[Any, tuple], Any]


class ConfigError(Exception):
    """A config mistake: the file, the key path and what was expected."""

    def __init__(self, path: tuple, message: str, file: str | None = None):
        super().__init__(message)
        self.path = tuple(path)
        self.message = message
        self.file = file

    @property
    def key(self) -> str:
        out = ""
        for part in self.path:
            if isinstance(part, int) and not isinstance(part, bool):
                out += f"[{part}]"
                continue
            name = str(part)
            if not name or not name.isprintable() or name.strip() != name:
                name = repr(name)  # a key with a newline or blanks stays one visible token
            out += f".{name}" if out else name
        return out or "(top level)"

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        message = " ".join(self.message.splitlines())  # always one line
        return f"{where}{self.key}: {message}"


def describe(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str) and ("://" in value or "@" in value):
        return "a value that is not shown (it may carry a password)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- scalars -----------------------------------------------------------------


def Str(pattern: str | None = None, what: str = "a string") -> Validator:
    rx = re.compile(pattern) if pattern else None

    def check(value, path):
        if not isinstance(value, str) or not value:
            raise ConfigError(path, f"expected {what}, got {describe(value)}")
        if rx and not rx.fullmatch(value):
            raise ConfigError(path, f"expected {what}, got {describe(value)}")
        return value

    return check


NAME = Str(
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
    "a name of letters, digits, '_', '.' or '-' (at most 63, starting with a letter or digit)",
)


def Bool() -> Validator:
    def check(value, path):
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {describe(value)}")
        return value

    return check


def Number(
    kind: type = float,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
) -> Validator:
    word = "an integer" if kind is int else "a number"

    def check(value, path):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (kind is int and not isinstance(value, int))
        ):
            raise ConfigError(path, f"expected {word}, got {describe(value)}")
        too_low = min is not None and (value <= min if min_exclusive else value < min)
        if too_low or (max is not None and value > max):
            lo = "" if min is None else (f"> {min}" if min_exclusive else f">= {min}")
            hi = "" if max is None else f"<= {max}"
            raise ConfigError(
                path,
                f"expected {word} {' and '.join(x for x in (lo, hi) if x)}, got {describe(value)}",
            )
        return kind(value)

    return check


def Enum(*choices: str) -> Validator:
    def check(value, path):
        if value not in choices:
            raise ConfigError(path, f"expected one of {', '.join(choices)}, got {describe(value)}")
        return value

    return check


_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_DURATION_UNITS = (31536000, 604800, 86400, 3600, 60, 1, 0.001)


def parse_duration(text: str) -> float | None:
    """'1h30m' -> 5400.0 (Prometheus duration syntax); None when malformed."""
    m = _DURATION.fullmatch(text) if isinstance(text, str) and text else None
    if not m or not any(m.groups()):
        return None
    return float(sum(int(g) * u for g, u in zip(m.groups(), _DURATION_UNITS, strict=True) if g))


def Duration(min_seconds: float = 0.0, positive: bool = True) -> Validator:
    def check(value, path):
        seconds = parse_duration(value)
        if seconds is None:
            raise ConfigError(
                path, f"expected a duration like 500ms, 5s, 2m, 26h or 1h30m, got {describe(value)}"
            )
        if (positive and seconds <= 0) or seconds < min_seconds:
            raise ConfigError(
                path,
                f"expected a duration of at least {max(min_seconds, 0.001):g}s, "
                f"got {describe(value)}",
            )
        return seconds

    return check


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}


def Size() -> Validator:
    def check(value, path):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        m = _SIZE.fullmatch(value) if isinstance(value, str) else None
        if not m:
            raise ConfigError(
                path, f"expected a size like 512, 10MiB or 2GB, got {describe(value)}"
            )
        return round(float(m.group(1)) * _SIZE_UNITS[m.group(2)])

    return check


def Regex() -> Validator:
    def check(value, path):
        Str(what="a regular expression")(value, path)
        try:
            return re.compile(value)
        except (re.error, OverflowError, RecursionError) as err:
            raise ConfigError(
                path, f"expected a valid regular expression, got {describe(value)} ({err})"
            ) from None

    return check


def Encoding() -> Validator:
    """The name of a log's text encoding, as Python's codecs know it."""

    def check(value, path):
        from .logs.encoding import UnsupportedEncoding, line_codec

        Str(what="an encoding name")(value, path)
        try:
            return line_codec(value).name
        except UnsupportedEncoding as err:
            raise ConfigError(path, str(err)) from None

    return check


def Cron() -> Validator:
    def check(value, path):
        from croniter import croniter

        if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
            raise ConfigError(
                path,
                "expected a 5-field cron expression like '0 2 * * *' "
                f"(minute hour day-of-month month day-of-week), got {describe(value)}",
            )
        return value

    return check


def Timezone() -> Validator:
    def check(value, path):
        Str(what="an IANA time zone like Asia/Shanghai or UTC")(value, path)
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ConfigError(
                path, f"expected an IANA time zone like Asia/Shanghai or UTC, got {describe(value)}"
            ) from None
        return value

    return check


def Url(*schemes: str, host_param: str | None = None) -> Validator:
    """A URL with one of ``schemes`` and a host (or, with ``host_param``, the
    host given as that query parameter, e.g. a PostgreSQL Unix socket)."""

    def check(value, path):
        what = f"a URL ({' or '.join(s + '://' for s in schemes)}...)"
        Str(what=what)(value, path)
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise ConfigError(path, f"expected {what}, got a malformed URL") from None
        has_host = bool(parts.hostname) or bool(host_param and f"{host_param}=" in parts.query)
        if parts.scheme not in schemes or not has_host:
            # never echo the value: a URL may carry a password
            raise ConfigError(path, f"expected {what} with a host name")
        return value

    return check


def Address() -> Validator:
    """host:port, with [v6]:port for IPv6."""

    def check(value, path):
        m = (
            re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/]+):(\d{1,5})", value)
            if isinstance(value, str)
            else None
        )
        if not m or not 0 < int(m.group(2)) < 65536:
            raise ConfigError(
                path, f"expected host:port like db1:5432 or [::1]:6379, got {describe(value)}"
            )
        return value

    return check


# --- compounds ----------------------------------------------------------------


def ListOf(item: Validator, unique: str | None = None, min_items: int = 0) -> Validator:
    def check(value, path):
        if value is None:
            value = []
        if not isinstance(value, list):
            raise ConfigError(path, f"expected a list, got {describe(value)}")
        if len(value) < min_items:
            raise ConfigError(path, f"expected at least {min_items} item(s)")
        out: list = []
        seen: dict[Any, int] = {}
        for i, element in enumerate(value):
            converted = item(element, path + (i,))
            if unique:
                key = getattr(converted, unique)
                if key in seen:
                    raise ConfigError(
                        path + (i, unique),
                        f"duplicate {unique} {key!r} (already used at index {seen[key]})",
                    )
                seen[key] = i
            out.append(converted)
        return tuple(out)

    return check


def MapOf(
    value_validator: Validator, key_validator: Validator | None = None, min_items: int = 0
) -> Validator:
    """A mapping whose keys pass ``key_validator`` (default: a non-empty string)."""
    check_key = key_validator or Str()

    def check(value, path):
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, got {describe(value)}")
        if len(value) < min_items:
            raise ConfigError(path, f"expected at least {min_items} entry(ies)")
        return {
            check_key(k, path + (str(k),)): value_validator(v, path + (str(k),))
            for k, v in value.items()
        }

    return check


# --- structures declared once, as dataclass fields ----------------------------------------

_SPEC = "aftercare.schema"


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one YAML key is read: its validator, whether it is required, where a default
    comes from when it is absent or null (``default_from``: a function called at load time)."""

    validator: Validator | None
    required: bool = False
    default: Any = None
    default_from: Callable[[], Any] | None = None

    def read(self, value: dict, key: str, path: tuple) -> Any:
        if value.get(key) is not None:
            assert self.validator is not None  # a key always has one (see f())
            return self.validator(value[key], path + (key,))
        if self.required:
            raise ConfigError(path + (key,), "required key is missing")
        if self.default_from:
            return self.default_from()
        return copy.copy(self.default)


def f(
    validator: Validator | None = None,
    default: Any = None,
    *,
    required: bool = False,
    default_from: Callable[[], Any] | None = None,
    **options,
) -> Any:
    """A dataclass field read from the YAML key of its name; without a validator it is
    not a key but set by the structure's ``post`` hook.  ``options`` go to
    :func:`dataclasses.field` (e.g. ``repr=False``)."""
    if not required:
        if isinstance(default, (dict, list, set)):
            options["default_factory"] = lambda: copy.copy(default)
        else:
            options["default"] = default
    metadata = {_SPEC: Spec(validator, required, default, default_from)} if validator else {}
    return dataclasses.field(metadata=metadata, **options)


def specs(cls: type) -> dict[str, Spec]:
    """The YAML keys of a dataclass declared with :func:`f`, in field order; a plain
    mapping type (``dict``) has none of its own, only those given to :func:`Struct`."""
    if not dataclasses.is_dataclass(cls):
        return {}
    return {fl.name: fl.metadata[_SPEC] for fl in dataclasses.fields(cls) if _SPEC in fl.metadata}


def Struct(
    cls: type,
    extra: dict[str, Spec] | None = None,
    one_of: Iterable[str] = (),
    exclusive: Iterable[tuple[str, str]] = (),
    post: Callable[[dict, tuple], None] | None = None,
) -> Validator:
    """A mapping with exactly the keys of the dataclass ``cls`` (plus ``extra``, keys
    that ``post`` consumes), converted to ``cls``.

    ``one_of``: exactly one of these keys must be present (e.g. a probe type).
    ``exclusive``: pairs of keys that may not both be present.
    ``post``: a hook for checks across keys, given the converted values; it may
    replace them (e.g. turn ``extra`` keys into a field that is not a key).
    """
    keys = {**specs(cls), **(extra or {})}
    one_of = tuple(one_of)
    exclusive = tuple(exclusive)

    def check(value, path):
        return from_mapping(cls, value, path, keys, one_of, exclusive, post)

    return check


def from_mapping(
    cls: type,
    value: Any,
    path: tuple,
    keys: dict[str, Spec] | None = None,
    one_of: tuple = (),
    exclusive: tuple = (),
    post: Callable[[dict, tuple], None] | None = None,
) -> Any:
    """Check ``value`` against ``keys`` (by default those of ``cls``; any other key is
    rejected) and build ``cls``; :func:`Struct` describes the other arguments."""
    keys = specs(cls) if keys is None else keys
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping, got {describe(value)}")
    for key in value:
        if key not in keys:
            raise ConfigError(
                path + (str(key),), "unknown key; expected one of " + ", ".join(sorted(keys))
            )
    if one_of:
        present = [k for k in one_of if k in value]
        if len(present) != 1:
            raise ConfigError(
                path,
                f"expected exactly one of {', '.join(one_of)}, "
                f"got {', '.join(present) if present else 'none'}",
            )
    for a, b in exclusive:
        if a in value and b in value:
            raise ConfigError(path + (b,), f"{a} and {b} cannot both be set")
    out = {key: spec.read(value, key, path) for key, spec in keys.items()}
    if post:
        post(out, path)
    return cls(**out)


# --- relative file names ----------------------------------------------------------------------

# relative paths in a config file are resolved against the directory of that
# file, as Prometheus does
_BASE_DIR: contextvars.ContextVar[str] = contextvars.ContextVar("base_dir", default=".")


@contextlib.contextmanager
def relative_to(file: str) -> Iterator[None]:
    """Within this block, :func:`resolve` joins names to the directory of ``file``."""
    token = _BASE_DIR.set(os.path.dirname(os.path.abspath(file)))
    try:
        yield
    finally:
        _BASE_DIR.reset(token)


def resolve(name: str) -> str:
    return os.path.join(_BASE_DIR.get(), name)
