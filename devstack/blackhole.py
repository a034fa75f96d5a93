"""A TCP listener that accepts connections and never answers."""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType


class BlackHole:
    """Accepts on 127.0.0.1 and holds every socket open, silent, until closed."""

    def __init__(self) -> None:
        """Bind and listen on a free port now; accepting starts on start() or entering the
        context."""
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The listening port."""
        return self._listener.getsockname()[1]

    @property
    def address(self) -> str:
        """host:port to point a probe at."""
        return f"127.0.0.1:{self.port}"

    @property
    def accepted(self) -> int:
        """How many connections have been accepted so far."""
        with self._lock:
            return len(self._held)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            while not self._stopping.is_set():
                if not selector.select(timeout=0.1):
                    continue
                try:
                    conn, _ = self._listener.accept()
                except (BlockingIOError, OSError):
                    continue
                with self._lock:
                    self._held.append(conn)

    def start(self) -> BlackHole:
        """Start accepting in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="blackhole", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting and close the listener and every held connection."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        with self._lock:
            for conn in self._held:
                conn.close()
            self._held.clear()
        self._listener.close()

    def __enter__(self) -> BlackHole:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
