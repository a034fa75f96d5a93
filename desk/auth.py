"""Passwords (bcrypt), CSRF tokens and login throttling."""

from __future__ import annotations

import hmac
import secrets
import threading
import time

import bcrypt

# a hash of a random password, checked for unknown names so they take as long as known ones
_DUMMY_HASH = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=10)).decode()


def hash_password(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode()


def check_password(password: str, hashed: str | None) -> bool:
    """Whether ``password`` matches; an unknown user (None) spends the same time and fails."""
    candidate = (hashed or _DUMMY_HASH).encode()
    try:
        ok = bcrypt.checkpw(password.encode("utf-8"), candidate)
    except ValueError:
        return False
    return ok and hashed is not None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class LoginThrottle:
    """At most ``limit`` failed logins per account name and per client address in ``window``."""

    def __init__(self, limit: int = 5, window: float = 300.0):
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if now - t < self.window]
        self._failures[key] = kept
        return kept

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)
