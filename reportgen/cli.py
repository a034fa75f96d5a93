"""aftercare-report: the monthly health assessment from the Prometheus HTTP API.

Exit codes: 0 ok, 2 bad arguments or config, 3 Prometheus unreachable or a query failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import OrderedDict

from exporters.config import ConfigError, load_config
from exporters.extras import MissingExtra, require_pdf
from exporters.version import version_line

from .httpconfig import check_ca_file, load_http_config
from .notes import load_notes
from .period import PeriodError, explicit_period, month_period, previous_month
from .prom import DEFAULT_MAX_RANGE, PromClient, PromError

EXIT_OK, EXIT_USAGE, EXIT_PROMETHEUS = 0, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"aftercare-report: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="aftercare-report",
        description=__doc__.splitlines()[0],
        epilog=__doc__.strip().splitlines()[-1],
    )
    p.add_argument("--version", action="version", version=version_line("aftercare-report"))
    p.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="base URL of a Prometheus-API-compatible server (required)",
    )
    p.add_argument(
        "--config.file",
        dest="config_file",
        default="aftercare.yml",
        metavar="FILE",
        help="the aftercare.yml describing the systems (default: %(default)s)",
    )
    p.add_argument(
        "--period",
        metavar="YYYY-MM",
        help="a calendar month in each system's time zone (default: the previous month)",
    )
    p.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="first day (YYYY-MM-DD) or an RFC 3339 time (default: none, see --period)",
    )
    p.add_argument(
        "--to",
        dest="end",
        metavar="DATE",
        help="last day, inclusive (YYYY-MM-DD) or an RFC 3339 time (default: none)",
    )
    p.add_argument(
        "--format",
        default="html,json",
        help="comma list of html, md, json, pdf, docx (default: %(default)s)",
    )
    p.add_argument(
        "--prepared-by",
        default="",
        metavar="NAME",
        help="who prepared the report, for the DOCX cover (default: none)",
    )
    p.add_argument(
        "--lang",
        default="zh",
        choices=("zh", "en"),
        help="report language: %(choices)s (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        default=".",
        metavar="DIR",
        help="directory the report files are written to (default: %(default)s)",
    )
    p.add_argument(
        "--system",
        action="append",
        metavar="NAME",
        help="limit to this system (repeatable; default: every system in the config)",
    )
    p.add_argument(
        "--http.config.file",
        dest="http_config_file",
        metavar="FILE",
        help="how to reach Prometheus: auth and TLS in the prometheus/common format "
        "(as promtool's --http.config.file; default: none)",
    )
    p.add_argument(
        "--bearer-token-file",
        metavar="FILE",
        help="a file holding a bearer token for Prometheus (default: none)",
    )
    p.add_argument(
        "--basic-auth-file", metavar="FILE", help="a file holding user:password (default: none)"
    )
    p.add_argument(
        "--ca-file",
        metavar="FILE",
        help="CA bundle to verify the server's certificate (default: the system's)",
    )
    p.add_argument(
        "--max-query-range",
        type=float,
        default=DEFAULT_MAX_RANGE / 3600,
        metavar="HOURS",
        help="split queries longer than this (Mimir's default limit is 768 h; "
        "default: %(default)g)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=3,
        help="retries per query, with backoff (default: %(default)s)",
    )
    p.add_argument(
        "--query-concurrency",
        type=int,
        default=4,
        metavar="N",
        help="areas analysed at once, so up to N queries in flight (1: one at a time; "
        "default: %(default)s)",
    )
    p.add_argument(
        "--runbook-base",
        default="",
        metavar="URL",
        help="prefix for runbook links (docs/runbooks/<AlertName>.md; "
        "default: none, relative links)",
    )
    p.add_argument(
        "--no-previous",
        action="store_true",
        help="skip the month-over-month comparison (default: compare)",
    )
    p.add_argument(
        "--notes",
        metavar="FILE",
        help="YAML per system: the engineer's findings, work_done and advice (default: none)",
    )
    p.add_argument(
        "--desk",
        metavar="URL",
        help="add the service record (handling notes, times, approvals, open items) "
        "from the aftercare-desk at URL; its token from --desk.token-file "
        "(default: none, no service record)",
    )
    p.add_argument(
        "--desk.token-file",
        dest="desk_token_file",
        metavar="FILE",
        help="the desk's report token (report_token_file in desk.yml; default: none)",
    )
    p.add_argument(
        "--desk.database",
        dest="desk_database",
        metavar="DSN",
        help="read the service record from the desk's database instead (default: none)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress on stderr (default: progress shown)"
    )
    return p


def _read_secret_file(path: str, flag: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except OSError as err:
        raise ValueError(f"{flag} {path}: {err.strerror}") from None
    if not value:
        raise ValueError(f"{flag} {path}: the file is empty")
    return value


def _groups(config, args):
    """[(Period, [System])]: one group per time zone of the selected systems."""
    systems = list(config.systems)
    if args.system:
        known = {s.name for s in systems}
        unknown = [n for n in args.system if n not in known]
        if unknown:
            raise ValueError(
                f"--system {', '.join(unknown)}: not in {config.file} "
                f"(known: {', '.join(sorted(known))})"
            )
        systems = [s for s in systems if s.name in args.system]
    if args.period and (args.start or args.end):
        raise ValueError("give either --period or --from/--to, not both")
    if bool(args.start) != bool(args.end):
        raise ValueError("--from and --to go together")
    by_tz: OrderedDict = OrderedDict()
    for system in systems:
        by_tz.setdefault(system.timezone, []).append(system)
    groups = []
    for tz, members in by_tz.items():
        if args.start:
            period = explicit_period(args.start, args.end, tz)
        else:
            period = month_period(args.period or previous_month(tz), tz)
        groups.append((period, members))
    return groups


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()

    def progress(message: str) -> None:
        if not args.quiet:
            print(
                f"aftercare-report: {time.monotonic() - started:5.1f}s {message}", file=sys.stderr
            )

    from .render import FORMATS

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        print(
            f"aftercare-report: --format {args.format!r}: expected a comma list of "
            f"{', '.join(FORMATS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        if "pdf" in formats:
            require_pdf()
    except MissingExtra as err:
        print(f"aftercare-report: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(args.config_file)
        groups = _groups(config, args)
        token = (
            _read_secret_file(args.bearer_token_file, "--bearer-token-file")
            if args.bearer_token_file
            else None
        )
        basic = None
        if args.basic_auth_file:
            user, sep, password = _read_secret_file(
                args.basic_auth_file, "--basic-auth-file"
            ).partition(":")
            if not sep:
                raise ValueError(
                    f"--basic-auth-file {args.basic_auth_file}: expected user:password"
                )
            basic = (user, password)
        http_config = None
        if args.http_config_file:
            shorthands = [
                f
                for f, v in (
                    ("--bearer-token-file", args.bearer_token_file),
                    ("--basic-auth-file", args.basic_auth_file),
                    ("--ca-file", args.ca_file),
                )
                if v
            ]
            if shorthands:
                raise ValueError(
                    f"{', '.join(shorthands)}: give it in --http.config.file "
                    f"{args.http_config_file} instead, not both"
                )
            http_config = load_http_config(args.http_config_file)
        elif args.ca_file:
            check_ca_file(args.ca_file)
        if not args.prometheus.startswith(("http://", "https://")):
            raise ValueError(
                f"--prometheus {args.prometheus!r}: expected an http:// or https:// URL"
            )
        if args.desk and args.desk_database:
            raise ValueError("give either --desk or --desk.database, not both")
        if args.desk and not args.desk_token_file:
            raise ValueError("--desk needs --desk.token-file")
        desk_token = (
            _read_secret_file(args.desk_token_file, "--desk.token-file") if args.desk else None
        )
        if args.max_query_range <= 0:
            raise ValueError("--max-query-range must be positive")
        if args.query_concurrency < 1:
            raise ValueError("--query-concurrency must be at least 1")
        notes = (
            load_notes(args.notes, [s.name for _, members in groups for s in members])
            if args.notes
            else {}
        )
    except ConfigError as err:
        print(f"aftercare-report: invalid config: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (PeriodError, ValueError) as err:
        print(f"aftercare-report: {err}", file=sys.stderr)
        return EXIT_USAGE

    client = PromClient(
        args.prometheus,
        bearer_token=token,
        basic_auth=basic,
        ca_file=args.ca_file,
        retries=args.retries,
        max_range=args.max_query_range * 3600,
        http_config=http_config,
    )
    from .analysis import build_report

    try:
        report = build_report(
            client,
            config,
            groups,
            progress,
            with_previous=not args.no_previous,
            workers=args.query_concurrency,
        )
    except PromError as err:
        print(f"aftercare-report: Prometheus: {err}; no report written", file=sys.stderr)
        return EXIT_PROMETHEUS
    for doc in report["systems"]:
        doc["engineer_notes"] = notes.get(doc["name"])
    if args.desk or args.desk_database:
        from .deskrecord import DeskError, from_api, from_database

        start, end = groups[0][0].start, groups[-1][0].end
        try:
            report["service_record"] = (
                from_api(args.desk, desk_token or "", start, end)
                if args.desk
                else from_database(args.desk_database, start, end)
            )
        except DeskError as err:
            print(f"aftercare-report: desk: {err}; no report written", file=sys.stderr)
            return EXIT_PROMETHEUS
    progress(
        f"{report['method']['query_count']} queries, "
        f"{report['method']['query_server_seconds']:.2f}s in Prometheus; rendering "
        f"{','.join(formats)}"
    )
    from .render import render_all, write_atomically

    base = f"aftercare-report-{groups[0][0].file_label}-{args.lang}"
    rendered = render_all(report, formats, args.lang, args.runbook_base, args.prepared_by)
    try:
        written = write_atomically(
            {f"{base}.{ext}": data for ext, data in rendered.items()}, args.out
        )
    except OSError as err:
        print(f"aftercare-report: cannot write to {args.out}: {err.strerror}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        progress(f"wrote {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
