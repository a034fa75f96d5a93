"""The interface of a database collector module, checked when it is registered.

A collector module declares ``RUNS``, the functions it defines among
``postgresql(cur, target, sink)`` and ``mysql(cur, target, sink)`` (run on the
target's one connection) and ``local(target, sink)`` (run on the exporter's
host, no connection: the filesystem of the data path); optionally
``applies(db)``, False for a database it is not run for; and its metrics, at
module level.  :func:`register` checks the declaration against the module when
the package is imported, so a module that lacks a declared function (or
defines one it does not declare) fails at import, never silently at a scrape.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from ..metrics import Metric, metrics_in

# the functions a collector may define -> their parameters
SIGNATURES = {
    "postgresql": ("cur", "target", "sink"),
    "mysql": ("cur", "target", "sink"),
    "local": ("target", "sink"),
}


def _always(_db) -> bool:
    return True


@dataclass(frozen=True)
class Collector:
    """One registered collector: its name (the ``collector`` label), functions and metrics."""

    name: str
    runs: dict[str, Callable]  # postgresql | mysql | local -> the module's function
    applies: Callable
    metrics: tuple[Metric, ...]

    def serves(self, engine: str, db) -> bool:
        """True when this collector runs for ``db`` on a target of ``engine``."""
        return (engine in self.runs or "local" in self.runs) and bool(self.applies(db))


def register(name: str, module: ModuleType) -> Collector:
    """The collector ``module`` declares; TypeError when the module does not match it."""
    where = module.__name__
    declared = getattr(module, "RUNS", None)
    if not (isinstance(declared, tuple) and declared and set(declared) <= set(SIGNATURES)):
        raise TypeError(
            f"{where}: RUNS must be a non-empty tuple of {', '.join(SIGNATURES)}, got {declared!r}"
        )
    runs: dict[str, Callable] = {}
    for run, params in SIGNATURES.items():
        function = getattr(module, run, None)
        defined = inspect.isfunction(function) and function.__module__ == where
        if run in declared and not defined:
            raise TypeError(f"{where}: RUNS declares {run} but the module defines no {run}()")
        if defined and run not in declared:
            raise TypeError(f"{where}: defines {run}() but RUNS does not declare it")
        if defined and function is not None:
            got = tuple(inspect.signature(function).parameters)
            if len(got) != len(params):
                raise TypeError(
                    f"{where}: {run}() must take ({', '.join(params)}), not ({', '.join(got)})"
                )
            runs[run] = function
    applies = getattr(module, "applies", _always)
    if not callable(applies):
        raise TypeError(f"{where}: applies must be a function of the database")
    return Collector(name, runs, applies, metrics_in(module))


def register_all(modules: dict[str, ModuleType]) -> dict[str, Collector]:
    """Collector name -> its checked declaration, in the order given."""
    return {name: register(name, module) for name, module in modules.items()}
