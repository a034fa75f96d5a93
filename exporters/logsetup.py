"""--log.level / --log.format (logfmt | json), with every known secret scrubbed."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from .metrics import LOG_NAME

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class Redactor:
    """Replaces the values of the current config's secrets wherever they appear.

    A long secret is replaced wherever it occurs; a short one (under 8
    characters) only where it stands as a whole token, so a password like
    "db" does not blank every target named "billing-db".
    """

    LONG = 8

    def __init__(self):
        self._pattern: re.Pattern | None = None

    def set_secrets(self, values) -> None:
        secrets = sorted({v for v in values if v}, key=len, reverse=True)
        parts = [
            re.escape(v)
            if len(v) >= self.LONG
            else rf"(?<![A-Za-z0-9_.-]){re.escape(v)}(?![A-Za-z0-9_.-])"
            for v in secrets
        ]
        self._pattern = re.compile("|".join(parts)) if parts else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub("<secret>", text) if self._pattern else text


redact = Redactor()


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str):
        super().__init__()
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower().replace("warning", "warn"),
            "msg": record.getMessage(),
        }
        fields.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if self.fmt == "json":
            line = json.dumps(fields, default=str, ensure_ascii=False)
        else:
            line = " ".join(f"{k}={_logfmt(v)}" for k, v in fields.items())
        return redact(line)


def _logfmt(value) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t\\'):
        return text
    return json.dumps(text, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "logfmt", stream=None) -> logging.Logger:
    logger = logging.getLogger(LOG_NAME)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    logger.handlers[:] = [handler]
    logger.setLevel(LEVELS[level])
    logger.propagate = False
    return logger
