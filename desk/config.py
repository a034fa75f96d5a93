"""desk.yml: the database, customers and their systems, response deadlines, accounts."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporters.schema import (
    NAME,
    ConfigError,
    Duration,
    Enum,
    ListOf,
    MapOf,
    Str,
    Struct,
    f,
    from_mapping,
    relative_to,
    resolve,
)
from exporters.yamlstrict import read_yaml

ROLES = ("engineer", "customer", "admin")
SEVERITIES = ("critical", "warning", "info")
DEFAULT_DEADLINES = {
    "critical": (900.0, 14400.0),
    "warning": (3600.0, 86400.0),
    "info": (86400.0, 604800.0),
}


@dataclass
class Deadline:
    """How long an incident of one severity may wait for a claim and for its resolution."""

    acknowledge: float = f(Duration(), required=True)
    resolve: float = f(Duration(), required=True)


@dataclass
class Customer:
    name: str = f(Str(), default="")
    systems: list = f(ListOf(NAME), default=[])


@dataclass
class Account:
    """An account the migrate command creates (its password from password_file)."""

    role: str = f(Enum(*ROLES), required=True)
    customer: str = f(NAME, default="")
    password_file: str = f(Str(), default="")


@dataclass
class DeskConfig:
    database: str = f(
        Str(
            r"(sqlite|postgresql)(\+\w+)?://.*", "a database URL sqlite:///FILE or postgresql://..."
        ),
        default="sqlite:///aftercare-desk.db",
    )
    intake_token_file: str = f(Str(), default="")
    report_token_file: str = f(Str(), default="")
    customers: dict = f(MapOf(Struct(Customer), NAME), default={})
    deadlines: dict = f(MapOf(Struct(Deadline), Enum(*SEVERITIES)), default={})
    accounts: dict = f(MapOf(Struct(Account), NAME), default={})
    prometheus_url: str = f(Str(r"https?://.*", "an http(s) URL"), default="")
    prometheus_poll_interval: float = f(Duration(min_seconds=1), default=30.0)
    runbooks_dir: str = f(Str(), default="")
    file: str = field(default="", repr=False)

    def customer_of(self, system: str) -> str:
        """The customer a system belongs to ('' when the config does not say)."""
        for name, customer in self.customers.items():
            if system in customer.systems:
                return name
        return ""

    def deadline(self, severity: str) -> tuple[float, float]:
        """(seconds to acknowledge, seconds to resolve) for a severity."""
        if severity in self.deadlines:
            d = self.deadlines[severity]
            return d.acknowledge, d.resolve
        return DEFAULT_DEADLINES.get(severity, DEFAULT_DEADLINES["warning"])

    def intake_token(self) -> str:
        return self._token("intake_token_file")

    def report_token(self) -> str:
        """The token with which the monthly report reads every customer's service record."""
        return self._token("report_token_file")

    def _token(self, key: str) -> str:
        file = getattr(self, key)
        if not file:
            return ""
        try:
            with open(file, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as err:
            raise ConfigError((key,), f"cannot read: {err.strerror}", self.file) from None


def _check_accounts(config: DeskConfig) -> None:
    for name, account in config.accounts.items():
        path = ("accounts", name, "customer")
        if account.role == "customer" and account.customer not in config.customers:
            raise ConfigError(
                path, "a customer account needs the name of a customer under customers", config.file
            )


def load_desk_config(file: str | None) -> DeskConfig:
    """The config in ``file`` (defaults for everything when None); ConfigError on a mistake."""
    if not file:
        return DeskConfig()
    document = read_yaml(file, "desk config file")
    try:
        with relative_to(file):
            config = from_mapping(DeskConfig, document or {}, ())
            config.intake_token_file = (
                resolve(config.intake_token_file) if config.intake_token_file else ""
            )
            config.report_token_file = (
                resolve(config.report_token_file) if config.report_token_file else ""
            )
            config.runbooks_dir = resolve(config.runbooks_dir) if config.runbooks_dir else ""
            for account in config.accounts.values():
                if account.password_file:
                    account.password_file = resolve(account.password_file)
    except ConfigError as err:
        err.file = file
        raise
    config.file = file
    _check_accounts(config)
    return config
