"""aftercare-exporter AREA: parse the flags, load the config, serve until stopped."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .areas import exporter_areas
from .config import ConfigError
from .logsetup import LEVELS, setup_logging
from .metrics import LOG_NAME, safe_error
from .registry import DEFAULT_PORTS, EXPORTERS, areas_for
from .server import Exporter, make_server

log = logging.getLogger(LOG_NAME)
EXIT_CONFIG = 2


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected host:port like 127.0.0.1:9851, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftercare-exporter",
        description="Prometheus exporter for the Aftercare inspection areas. "
                    "Also: aftercare-exporter check-config FILE; aftercare-exporter targets "
                    "--config.file FILE --out DIR")
    served = "; ".join(f"{name}: {', '.join(exporter_areas(name))}" for name in EXPORTERS)
    parser.add_argument("area", choices=sorted(EXPORTERS) + ["all"],
                        help=f"the inspection area to serve ({served}; all: every area)")
    parser.add_argument("--config.file", dest="config_file", default="aftercare.yml",
                        help="the aftercare.yml to read (default: %(default)s)")
    parser.add_argument("--web.listen-address", dest="listen", type=parse_listen,
                        help="address to listen on (default: :PORT of the area, e.g. :9851 for database)")
    parser.add_argument("--web.config.file", dest="web_config", default=None,
                        help="exporter-toolkit web config: TLS and basic auth")
    parser.add_argument("--web.telemetry-path", dest="telemetry_path", default="/metrics")
    parser.add_argument("--log.level", dest="log_level", choices=list(LEVELS), default="info")
    parser.add_argument("--log.format", dest="log_format", choices=["logfmt", "json"], default="logfmt")
    return parser


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    from .webconfig import load_web_config
    areas = areas_for(args.area)
    listen = args.listen or ("0.0.0.0", DEFAULT_PORTS[args.area])
    exporter = Exporter(args.config_file, areas)
    try:
        webcfg = load_web_config(args.web_config)
        exporter.load()
    except ConfigError as err:
        print(f"aftercare-exporter: invalid config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as err:  # a bug, reported in one line rather than a traceback
        print(f"aftercare-exporter: cannot start: {safe_error(err)}", file=sys.stderr)
        return 1
    try:
        server = make_server(exporter, listen, webcfg, telemetry_path=args.telemetry_path,
                             title=f"Aftercare {args.area} exporter")
    except OSError as err:
        print(f"aftercare-exporter: cannot listen on {listen[0]}:{listen[1]}: {err.strerror}",
              file=sys.stderr)
        return 1

    def on_hup(signum, frame):
        threading.Thread(target=exporter.reload, name="reload", daemon=True).start()

    def on_term(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info("listening", extra={"area": args.area, "address": f"{listen[0]}:{listen[1]}",
                                 "web": webcfg.describe()})
    try:
        server.serve_forever(poll_interval=0.2)
    except Exception as err:  # pragma: no cover - last resort, keeps the message clean
        log.error("server stopped", extra={"err": safe_error(err)})
        return 1
    finally:
        server.server_close()
        exporter.close()
    log.info("stopped")
    return 0
