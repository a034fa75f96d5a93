"""The ``notify:`` section of aftercare.yml: channels, their robot URLs and secrets.

A robot's webhook URL carries its token, so it is a secret like the signing
secret: both come from a file or an environment variable and are held in
:class:`~exporters.config.Secret`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Secret
from ..schema import (
    NAME,
    ConfigError,
    Duration,
    Enum,
    ListOf,
    Number,
    Spec,
    Str,
    Struct,
    Url,
    f,
    resolve,
)

VENDORS = ("dingtalk", "feishu", "wecom")
TYPES = VENDORS + ("webhook", "console")
# messages a minute each vendor accepts per robot (their documentation, docs/notify.md)
RATE_LIMITS = {"dingtalk": 20, "feishu": 100, "wecom": 20, "webhook": 600, "console": 600}
SIGNED = ("dingtalk", "feishu")

_ENV_NAME = Str(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")
_FILE = Str(what="a file path")
_EXTRA = {
    "url_file": Spec(_FILE),
    "url_env": Spec(_ENV_NAME),
    "secret_file": Spec(_FILE),
    "secret_env": Spec(_ENV_NAME),
}
_EXCLUSIVE = [("url_file", "url_env"), ("secret_file", "secret_env")]


def _read(raw: dict, path: tuple, what: str) -> Secret | None:
    """The value of ``<what>_file`` or ``<what>_env``, as a Secret (None when neither is set)."""
    file_key, env_key = f"{what}_file", f"{what}_env"
    if raw.get(file_key):
        file = resolve(raw[file_key])
        try:
            with open(file, encoding="utf-8") as fh:
                value = fh.read().strip()
        except OSError as err:
            raise ConfigError(
                path + (file_key,), f"cannot read the {what} file {file!r}: {err.strerror}"
            ) from None
        if not value:
            raise ConfigError(path + (file_key,), f"the {what} file {file!r} is empty")
        return Secret(value, f"{file_key} {file}")
    if raw.get(env_key):
        value = os.environ.get(raw[env_key], "").strip()
        if not value:
            raise ConfigError(
                path + (env_key,), f"the environment variable {raw[env_key]} is not set or empty"
            )
        return Secret(value, f"{env_key} {raw[env_key]}")
    return None


def _read_channel(out: dict, path: tuple) -> None:
    kind = out["type"]
    url = _read(out, path, "url")
    secret = _read(out, path, "secret")
    for key in _EXTRA:
        del out[key]
    if kind == "console":
        if url or secret:
            raise ConfigError(
                path + ("type",), "a console channel prints: it takes no url or secret"
            )
    elif url is None:
        raise ConfigError(path, f"a {kind} channel needs its webhook URL: set url_file or url_env")
    else:
        Url("http", "https")(
            url.reveal(), path + ("url_file" if "file" in url.source else "url_env",)
        )
    if secret and kind not in SIGNED:
        raise ConfigError(
            path + ("secret_file",),
            f"a {kind} robot takes no signing secret (only {', '.join(SIGNED)} sign)",
        )
    if out["rate_limit"] is None:
        out["rate_limit"] = RATE_LIMITS[kind]
    out["url"], out["secret"] = url, secret


@dataclass(frozen=True)
class Channel:
    name: str = f(NAME, required=True)
    type: str = f(Enum(*TYPES), required=True)
    mention: tuple[str, ...] = f(
        ListOf(Str(r"[A-Za-z0-9_.@+-]{1,64}", "a mobile number or user id")), default=()
    )
    language: str = f(Enum("zh", "en"), default="zh")
    # messages a minute; _read_channel puts the type's own limit when none is given
    rate_limit: int = f(Number(int, 1, 1000))
    timeout: float = f(Duration(min_seconds=0.1), default=10.0)
    dedup_window: float = f(Duration(), default=600.0)
    grafana_url: str = f(Url("http", "https"), default="http://127.0.0.1:3000")
    url: Secret | None = f()
    secret: Secret | None = f()


@dataclass(frozen=True)
class Notify:
    channels: tuple[Channel, ...] = f(
        ListOf(
            Struct(Channel, extra=_EXTRA, exclusive=_EXCLUSIVE, post=_read_channel),
            unique="name",
            min_items=1,
        ),
        required=True,
    )
    state_dir: str | None = f(Str(what="a directory path"))  # default: <defaults.state_dir>/notify
    retry_initial: float = f(Duration(), default=1.0)
    retry_max: float = f(Duration(), default=300.0)

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)


NOTIFY = Struct(Notify)
