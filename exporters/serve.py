"""aftercare-exporter AREA: parse the flags, load the config, serve until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .areas import exporter_areas
from .config import ConfigError, load_config
from .extras import MissingExtra, require_area, require_for_config
from .listen import ListenAddress, parse_listen_address
from .logsetup import LEVELS, setup_logging
from .metrics import LOG_NAME, safe_error
from .registry import DEFAULT_PORTS, EXPORTERS, areas_for
from .server import Exporter, ListenError, LiveWebConfig, make_servers, serve
from .version import version_line

log = logging.getLogger(LOG_NAME)
EXIT_CONFIG = 2


def parse_listen(value: str) -> ListenAddress:
    try:
        return parse_listen_address(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftercare-exporter",
        description="Prometheus exporter for the Aftercare inspection areas. "
        "Also: aftercare-exporter check-config FILE; aftercare-exporter targets "
        "--config.file FILE --out DIR",
    )
    served = "; ".join(f"{name}: {', '.join(exporter_areas(name))}" for name in EXPORTERS)
    parser.add_argument(
        "area",
        choices=sorted(EXPORTERS) + ["all"],
        help=f"the inspection area to serve ({served}; all: every area)",
    )
    parser.add_argument("--version", action="version", version=version_line("aftercare-exporter"))
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default="aftercare.yml",
        help="the aftercare.yml to read (default: %(default)s)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        type=parse_listen,
        action="append",
        metavar="ADDRESS",
        help="address to listen on, repeatable; :PORT is every IPv4 and IPv6 "
        "address (default: :PORT of the area, e.g. :9851 for database)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config",
        default=None,
        help="exporter-toolkit web config: TLS and basic auth "
        "(re-read on SIGHUP and POST /-/reload; default: none, plain HTTP "
        "without auth)",
    )
    parser.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        help="path of the metrics endpoint (default: %(default)s)",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        choices=list(LEVELS),
        default="info",
        help="least severe level logged: %(choices)s (default: %(default)s)",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        choices=["logfmt", "json"],
        default="logfmt",
        help="log line format: %(choices)s (default: %(default)s)",
    )
    return parser


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        require_area(args.area)
    except MissingExtra as err:
        print(f"aftercare-exporter: {err}", file=sys.stderr)
        return EXIT_CONFIG
    areas = areas_for(args.area)
    addresses = args.listen or [ListenAddress("", DEFAULT_PORTS[args.area])]
    try:
        require_for_config(args.area, load_config(args.config_file))
        web = LiveWebConfig(args.web_config)
        exporter = Exporter(args.config_file, areas, web)
        exporter.load()
    except ConfigError as err:
        print(f"aftercare-exporter: invalid config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except MissingExtra as err:
        print(f"aftercare-exporter: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as err:  # a bug, reported in one line rather than a traceback
        print(f"aftercare-exporter: cannot start: {safe_error(err)}", file=sys.stderr)
        return 1
    try:
        servers = make_servers(
            exporter,
            addresses,
            web,
            telemetry_path=args.telemetry_path,
            title=f"Aftercare {args.area} exporter",
        )
    except ListenError as err:
        print(f"aftercare-exporter: {err}", file=sys.stderr)
        exporter.close()
        return 1
    stop = threading.Event()

    def on_hup(signum, frame):
        threading.Thread(target=exporter.reload, name="reload", daemon=True).start()

    def on_term(signum, frame):
        stop.set()

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    for server in servers:
        log.info(
            "listening",
            extra={"area": args.area, "address": server.address, "web": web.current.describe()},
        )
    try:
        serve(servers, stop)
    except Exception as err:  # pragma: no cover - last resort, keeps the message clean
        log.error("server stopped", extra={"err": safe_error(err)})
        return 1
    finally:
        exporter.close()
    log.info("stopped")
    return 0
