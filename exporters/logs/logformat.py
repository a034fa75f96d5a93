"""Access log line parsers compiled once from the format the server declares.

- :func:`compile_nginx`: an nginx ``log_format`` string (``$var``, ``${var}``);
- :func:`compile_apache`: an Apache ``LogFormat`` string (``%h %t "%r" %>s %D`` ...);
- :func:`json_parser`: one JSON object per line, with the names of its keys.

A parser takes one line (bytes, without its newline) and returns an
:class:`Entry`, or None when the line does not fit the format: such a line is
counted as unparsed, never guessed at.  A format Aftercare cannot read raises
:class:`LogFormatError` naming the variable or directive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple


class LogFormatError(ValueError):
    """A log format that cannot be compiled; the message names what is wrong."""


class Entry(NamedTuple):
    """What a line tells: status class digit, request and upstream seconds, path."""

    status_class: str
    request_time: float | None
    upstream_time: float | None
    path: str | None


Parser = Callable[[bytes], "Entry | None"]
DECLARED_FORMATS = ("nginx", "apache", "json")

_SECONDS = rb"[0-9]+(?:\.[0-9]+)?"
# nginx writes one time per upstream tried: "0.010, 0.020" (next upstream),
# "0.010 : 0.020" (internal redirect to another group), "-" for none
_TIME_LIST = rb"(?:-|" + _SECONDS + rb")(?:(?:, | : )(?:-|" + _SECONDS + rb"))*"
_TIME_LOCAL = rb"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
_STATUS = rb"[0-9]{3}"


def _generic(next_literal: bytes) -> bytes:
    """A value running up to the next literal character (or the line's end)."""
    if not next_literal:
        return rb".*"
    stop = next_literal[:1]
    if stop == b'"':  # inside quotes: escaped characters (\" \x22) never end it
        return rb'[^"\\]*(?:\\.[^"\\]*)*'
    return rb"[^" + re.escape(stop) + rb"]*"


def upstream_seconds(text: bytes) -> float | None:
    """Sum of an upstream time list; None when no upstream answered (all ``-``)."""
    parts = [p for p in re.split(rb", | : ", text) if p != b"-"]
    return sum(float(p) for p in parts) if parts else None


def path_of_request(request: bytes) -> str | None:
    """The path of a request line ``GET /a?b HTTP/1.1``, without its query string."""
    words = request.split(b" ")
    return path_of_uri(words[1]) if len(words) >= 2 else None


def path_of_uri(uri: bytes) -> str:
    return uri.split(b"?", 1)[0].decode("utf-8", "replace")


# --- compiled regex parsers -----------------------------------------------------------------


class _RegexParser:
    """A line regex with one group per role Aftercare reads."""

    def __init__(self, regex: bytes, roles: dict[str, float]):
        self.regex = re.compile(regex, re.DOTALL)
        self.scale = roles.get("request_time", 1.0)
        self.has_status = "status" in roles

    def __call__(self, line: bytes) -> Entry | None:
        m = self.regex.fullmatch(line)
        if m is None:
            return None
        found = m.groupdict()
        status = found["status"]
        if status is None or not b"1" <= status[:1] <= b"5":
            return None
        seconds = found.get("request_time")
        upstream = found.get("upstream")
        path = found.get("uri")
        request = found.get("request")
        return Entry(
            status[:1].decode(),
            float(seconds) * self.scale if seconds not in (None, b"-") else None,
            upstream_seconds(upstream) if upstream is not None else None,
            path_of_uri(path)
            if path is not None and path != b"-"
            else path_of_request(request)
            if request is not None
            else None,
        )


# a format's parts: literal bytes, or (role, specific pattern, what) for a field
_Item = bytes | tuple[str, bytes | None, str]


def _assemble(items: list[_Item], name: str, fmt: str) -> tuple[bytes, dict[str, float]]:
    """Join (literal bytes) and (role, specific pattern, what) items into one regex."""
    out, roles = [], {}
    for i, item in enumerate(items):
        if isinstance(item, bytes):
            out.append(re.escape(item))
            continue
        role, pattern, what = item
        following = items[i + 1] if i + 1 < len(items) else b""
        if not isinstance(following, bytes):
            raise LogFormatError(
                f"{what} and {following[2]} have no text between them, so where "
                "one ends cannot be told; put a space or another character "
                "between them"
            )
        if role in roles or role == "other":
            pattern = pattern or _generic(following)
            out.append(b"(?:" + pattern + b")")
            continue
        roles[role] = 1.0
        out.append(b"(?P<" + role.encode() + b">" + (pattern or _generic(following)) + b")")
    if "status" not in roles:
        raise LogFormatError(f"the {name} has no status ({fmt}), so requests cannot be counted")
    return b"".join(out), roles


# --- nginx ----------------------------------------------------------------------------------

# variables of ngx_http_core_module and the modules commonly built in (Debian's nginx)
NGINX_VARIABLES = frozenset(
    """
    args binary_remote_addr body_bytes_sent bytes_sent connection connection_requests
    connection_time content_length content_type document_root document_uri host hostname https
    is_args limit_rate msec nginx_version pid pipe proxy_protocol_addr proxy_protocol_port
    proxy_protocol_server_addr proxy_protocol_server_port query_string realpath_root remote_addr
    remote_port remote_user request request_body request_body_file request_completion
    request_filename request_id request_length request_method request_time request_uri scheme
    server_addr server_name server_port server_protocol status tcpinfo_rtt tcpinfo_rttvar
    tcpinfo_snd_cwnd tcpinfo_rcv_space time_iso8601 time_local uri
    upstream_addr upstream_bytes_received upstream_bytes_sent upstream_cache_status
    upstream_connect_time upstream_header_time upstream_queue_time upstream_response_length
    upstream_response_time upstream_status upstream_last_server_name
    ssl_alpn_protocol ssl_cipher ssl_ciphers ssl_client_cert ssl_client_escaped_cert
    ssl_client_fingerprint ssl_client_i_dn ssl_client_i_dn_legacy ssl_client_raw_cert
    ssl_client_s_dn ssl_client_s_dn_legacy ssl_client_serial ssl_client_v_end ssl_client_v_remain
    ssl_client_v_start ssl_client_verify ssl_curve ssl_curves ssl_early_data ssl_protocol
    ssl_server_name ssl_session_id ssl_session_reused
    realip_remote_addr realip_remote_port
    geoip_area_code geoip_city geoip_city_continent_code geoip_city_country_code
    geoip_city_country_code3 geoip_city_country_name geoip_country_code geoip_country_code3
    geoip_country_name geoip_dma_code geoip_latitude geoip_longitude geoip_org geoip_postal_code
    geoip_region geoip_region_name
    gzip_ratio http2 http3 invalid_referer limit_conn_status limit_req_status memcached_key
    proxy_host proxy_port proxy_add_x_forwarded_for fastcgi_script_name fastcgi_path_info
    secure_link secure_link_expires uid_got uid_reset uid_set slice_range date_local date_gmt
    connections_active connections_reading connections_writing connections_waiting
    modern_browser ancient_browser msie binary_remote_addr
""".split()
)
NGINX_PREFIXES = (
    "arg_",
    "cookie_",
    "http_",
    "sent_http_",
    "sent_trailer_",
    "upstream_http_",
    "upstream_cookie_",
    "upstream_trailer_",
    "proxy_protocol_tlv_",
    "jwt_",
)

_NGINX_ROLES = {
    "status": ("status", _STATUS),
    "request_time": ("request_time", _SECONDS),
    "upstream_response_time": ("upstream", _TIME_LIST),
    "request": ("request", None),
    "request_uri": ("uri", None),
    "uri": ("uri", None),
    "time_local": ("other", _TIME_LOCAL),
    "msec": ("other", _SECONDS),
    "upstream_connect_time": ("other", _TIME_LIST),
    "upstream_header_time": ("other", _TIME_LIST),
}
_NGINX_VAR = re.compile(r"\$(?:\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")
_NGINX_QUOTED = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\S+)""")
_NGINX_ESCAPES = {"t": "\t", "n": "\n", "r": "\r"}


def unquote_nginx(text: str) -> str:
    """The format of a ``log_format`` as pasted from nginx.conf: ``log_format main
    escape=default '...' '...';`` becomes the concatenated format; a bare format
    (no quotes) is returned as it is."""
    body = text.strip()
    if re.match(r"log_format\s", body):
        words = body.split(None, 2)  # log_format NAME FORMAT...
        body = words[2] if len(words) == 3 else ""
    body = re.sub(r"^escape=\S+\s+", "", body).rstrip().removesuffix(";").rstrip()
    if not body or body[0] not in "'\"":
        return body
    parts, pos = [], 0
    while pos < len(body):
        m = _NGINX_QUOTED.match(body, pos)
        assert m is not None  # its last alternative matches any non-space
        if m.group(3) is not None:
            raise LogFormatError(f"text {m.group(3)!r} outside the quotes of the log_format")
        raw = m.group(1) if m.group(1) is not None else m.group(2)
        parts.append(re.sub(r"\\(.)", lambda e: _NGINX_ESCAPES.get(e.group(1), e.group(1)), raw))
        pos = m.end()
        while pos < len(body) and body[pos].isspace():
            pos += 1
    return "".join(parts)


def _nginx_known(name: str) -> bool:
    return (
        name in NGINX_VARIABLES
        or (name.isdigit() and len(name) == 1)
        or any(name.startswith(p) and len(name) > len(p) for p in NGINX_PREFIXES)
    )


def compile_nginx(fmt: str) -> Parser:
    """A parser for lines nginx writes with ``log_format NAME '<fmt>'``."""
    fmt = unquote_nginx(fmt)
    items: list[_Item] = []
    pos = 0
    for m in _NGINX_VAR.finditer(fmt):
        if m.start() > pos:
            items.append(fmt[pos : m.start()].encode())
        name = m.group(1) if m.group(1) is not None else m.group(2)
        if not _nginx_known(name):
            raise LogFormatError(
                f"unknown nginx variable ${name} (not one of nginx's documented "
                "variables; check its spelling)"
            )
        role, pattern = _NGINX_ROLES.get(name, ("other", None))
        items.append((role, pattern, f"${name}"))
        pos = m.end()
    if "$" in fmt[pos:] or any(isinstance(i, bytes) and b"$" in i for i in items):
        raise LogFormatError("a '$' that does not start a variable name in the log_format")
    if pos < len(fmt):
        items.append(fmt[pos:].encode())
    regex, roles = _assemble(items, "log_format", "$status")
    return _RegexParser(regex, roles)


# --- Apache ---------------------------------------------------------------------------------

_APACHE_TIME_UNITS = {"T": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
# directive letter -> pattern (None: up to the next literal); those with a role are below
_APACHE_DIRECTIVES = {
    "a": None,
    "A": None,
    "B": rb"[0-9]+",
    "b": rb"[0-9]+|-",
    "C": None,
    "e": None,
    "f": None,
    "h": None,
    "H": None,
    "i": None,
    "k": rb"[0-9]+",
    "l": None,
    "L": None,
    "m": None,
    "n": None,
    "o": None,
    "p": rb"[0-9]+",
    "P": None,
    "q": None,
    "r": None,
    "R": None,
    "s": _STATUS,
    "t": None,
    "T": rb"[0-9]+",
    "D": rb"[0-9]+",
    "u": None,
    "U": None,
    "v": None,
    "V": None,
    "X": rb"[-+X]",
    "I": rb"[0-9]+",
    "O": rb"[0-9]+",
    "S": rb"[0-9]+",
    "^ti": None,
    "^to": None,
}
_APACHE_ITEM = re.compile(r"%([!0-9,<>]*)(?:\{([^}]*)\})?([!0-9,<>]*)(\^t[io]|.)?", re.DOTALL)


def unquote_apache(text: str) -> str:
    """The format of ``LogFormat "<fmt>" nickname`` as pasted from the Apache config;
    a bare format (not in double quotes) is returned as it is."""
    body = text.strip()
    if body.startswith("LogFormat"):
        body = body[len("LogFormat") :].strip()
    if not body.startswith('"'):
        return body
    m = re.match(r'"((?:[^"\\]|\\.)*)"(\s+\S+)?\s*$', body)
    if m is None:
        raise LogFormatError("the LogFormat string has no closing double quote")
    return re.sub(r'\\(["\\])', r"\1", m.group(1)).replace("\\t", "\t").replace("\\n", "\n")


def _strftime_pattern(arg: str) -> bytes:
    """A pattern for ``%{format}t``: ``sec``/``msec``... or an strftime format."""
    arg = arg.removeprefix("begin:").removeprefix("end:")
    if arg in ("sec", "msec", "usec", "msec_frac", "usec_frac"):
        return rb"[0-9]+"
    out = b""
    for piece in re.split(r"(%.)", arg):
        if piece == "%%":
            out += b"%"
        elif piece.startswith("%") and len(piece) == 2:
            out += rb".+?"
        else:
            out += re.escape(piece.encode())
    return out


def _apache_item(conds: str, arg: str | None, letter: str) -> tuple[str, bytes | None, str]:
    what = "%" + conds + ("{" + arg + "}" if arg is not None else "") + letter
    pattern = _APACHE_DIRECTIVES[letter]
    role = "other"
    if letter == "s":
        role = "status" if ">" in conds or "<" not in conds else "other"
    elif letter == "T" and arg not in (None, "s", "ms", "us"):
        raise LogFormatError(f"unknown unit in {what} (expected %T, %{{s}}T, %{{ms}}T or %{{us}}T)")
    elif letter in "TD":
        role = "request_time"
    elif letter == "t":
        pattern = rb"\[[^\]]*\]" if arg is None else _strftime_pattern(arg)
    elif letter == "r":
        role = "request"
    elif letter == "U":
        role = "uri"
    if any(c.isdigit() for c in conds):  # a status condition: "-" when it does not hold
        pattern = (pattern or None) and b"-|" + pattern
        role = "other"  # never read from a field that may be "-"
    return role, pattern, what


def compile_apache(fmt: str) -> Parser:
    """A parser for lines Apache writes with ``LogFormat "<fmt>"`` (mod_log_config)."""
    fmt = unquote_apache(fmt)
    items: list[_Item] = []
    literal, pos = "", 0
    times = []  # (seconds per unit, index in items)
    while pos < len(fmt):
        if fmt[pos] != "%":
            literal += fmt[pos]
            pos += 1
            continue
        if fmt.startswith("%%", pos):
            literal += "%"
            pos += 2
            continue
        m = _APACHE_ITEM.match(fmt, pos)
        assert m is not None  # every part of the pattern is optional
        conds, arg, letter = m.group(1) + m.group(3), m.group(2), m.group(4)
        if letter is None or letter not in _APACHE_DIRECTIVES:
            shown = fmt[pos : m.end()]
            raise LogFormatError(
                f"unknown LogFormat directive {shown!r} (not one of Apache's "
                "mod_log_config directives)"
            )
        if literal:
            items.append(literal.encode())
            literal = ""
        role, pattern, what = _apache_item(conds, arg, letter)
        if role == "request_time":
            unit = 1e-6 if letter == "D" else _APACHE_TIME_UNITS[arg or "T"]
            times.append((unit, len(items)))
        items.append((role, pattern, what))
        pos = m.end()
    if literal:
        items.append(literal.encode())
    if times:  # the most precise request time is read
        best = min(times)[1]
        for _unit, i in times:
            item = items[i]
            if i != best and isinstance(item, tuple):
                items[i] = ("other",) + item[1:]
    regex, roles = _assemble(items, "LogFormat", "%>s or %s")
    parser = _RegexParser(regex, roles)
    parser.scale = min(times)[0] if times else 1.0
    return parser


# --- JSON lines -----------------------------------------------------------------------------

JSON_FIELDS = ("status", "request_time", "upstream_response_time", "path", "request")
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", value):
        return float(value)
    return None


def json_parser(fields: dict[str, str], time_unit: str = "s") -> Parser:
    """A parser for one JSON object per line; ``fields`` maps what Aftercare reads
    (status, request_time, upstream_response_time, path or request) to JSON keys."""
    unknown = sorted(set(fields) - set(JSON_FIELDS))
    if unknown:
        raise LogFormatError(f"unknown field {unknown[0]!r}; expected {', '.join(JSON_FIELDS)}")
    if "status" not in fields:
        raise LogFormatError("the JSON fields need the key of the status (status: ...)")
    if time_unit not in TIME_UNITS:
        raise LogFormatError(f"unknown time unit {time_unit!r}; expected s, ms or us")
    scale = TIME_UNITS[time_unit]
    status_key = fields["status"]
    time_key, up_key = fields.get("request_time"), fields.get("upstream_response_time")
    path_key, request_key = fields.get("path"), fields.get("request")

    def parse(line: bytes) -> Entry | None:
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        status = str(obj.get(status_key, ""))
        if not re.fullmatch(r"[1-5][0-9]{2}", status):
            return None
        seconds = _number(obj.get(time_key)) if time_key else None
        upstream = obj.get(up_key) if up_key else None
        if isinstance(upstream, str) and re.fullmatch(_TIME_LIST.decode(), upstream):
            upstream = upstream_seconds(upstream.encode())
        else:
            upstream = _number(upstream)
        path = obj.get(path_key) if path_key else None
        if isinstance(path, str) and path not in ("", "-"):
            path = path.split("?", 1)[0]
        elif request_key and isinstance(obj.get(request_key), str):
            path = path_of_request(obj[request_key].encode())
        else:
            path = None
        return Entry(status[0], seconds * scale if seconds is not None else None, upstream, path)

    return parse


def compile_format(
    fmt: str, log_format: str | None, fields: dict | None, time_unit: str = "s"
) -> Parser:
    """The parser of a declared format; raises LogFormatError when it cannot be read."""
    if fmt == "json":
        return json_parser(fields or {}, time_unit)
    if not log_format:
        raise LogFormatError(f"format {fmt} needs log_format: the format string of the server")
    return compile_nginx(log_format) if fmt == "nginx" else compile_apache(log_format)
