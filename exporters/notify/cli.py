"""aftercare-notify: serve the webhook receiver, or send one test message to a channel."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import threading

from ..config import ConfigError
from ..listen import ListenAddress, bind
from ..logsetup import LEVELS, setup_logging
from ..metrics import LOG_NAME, safe_error
from ..serve import parse_listen
from ..server import ListenError, LiveWebConfig, _Server, serve
from ..version import version_line

log = logging.getLogger(LOG_NAME)
EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
PROG = "aftercare-notify"
DEFAULT_PORT = 9099


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Alertmanager webhook receiver forwarding pages to DingTalk, "
        "Feishu and WeCom group robots.  Also: aftercare-notify test "
        "--channel NAME",
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default="aftercare.yml",
        help="the aftercare.yml with the notify section (default: %(default)s)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        type=parse_listen,
        action="append",
        metavar="ADDRESS",
        help="address to listen on, repeatable; :PORT is every IPv4 and IPv6 "
        "address (default: :9099)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config",
        default=None,
        help="exporter-toolkit web config: TLS and basic auth (re-read on SIGHUP "
        "and POST /-/reload; default: none, plain HTTP without auth)",
    )
    parser.add_argument("--log.level", dest="log_level", choices=list(LEVELS), default="info")
    parser.add_argument(
        "--log.format", dest="log_format", choices=["logfmt", "json"], default="logfmt"
    )
    parser.add_argument("--version", action="version", version=version_line(PROG))
    return parser


def _test_payload(channel: str) -> dict:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "4",
        "groupKey": f"aftercare-notify-test/{channel}",
        "status": "firing",
        "receiver": channel,
        "groupLabels": {"alertname": "AftercareNotifyTest"},
        "alerts": [
            {
                "status": "firing",
                "startsAt": now,
                "labels": {"alertname": "AftercareNotifyTest", "severity": "info", "area": "meta"},
                "annotations": {
                    "summary": f"Test message from aftercare-notify to {channel}",
                    "summary_zh": f"aftercare-notify 发往 {channel} 的测试消息",
                },
            }
        ],
    }


def test_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} test", description="send one test message, print the answer"
    )
    parser.add_argument("--config.file", dest="config_file", default="aftercare.yml")
    parser.add_argument("--channel", required=True)
    args = parser.parse_args(argv)
    setup_logging("warn")
    from .delivery import send
    from .render import render
    from .service import load_notify
    from .vendors import TEXT_LIMITS

    try:
        notify = load_notify(args.config_file)
    except ConfigError as err:
        print(f"{PROG}: invalid config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    channel = notify.channel(args.channel)
    if channel is None:
        print(
            f"{PROG}: no channel {args.channel!r} in {args.config_file} (known: "
            f"{', '.join(c.name for c in notify.channels)})",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    payload = _test_payload(channel.name)
    message = render([payload], channel.language, channel.grafana_url, TEXT_LIMITS[channel.type])
    answer = send(channel, message, [payload])
    print(
        f"{channel.name} ({channel.type}): {'delivered' if answer.ok else 'FAILED'}: "
        f"{answer.detail}"
    )
    return EXIT_OK if answer.ok else EXIT_FAILURE


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    from .http import make_handler, reload_all
    from .service import Notifier

    notifier = Notifier(args.config_file)
    addresses = args.listen or [ListenAddress("", DEFAULT_PORT)]
    try:
        web = LiveWebConfig(args.web_config)
        notifier.load()
    except ConfigError as err:
        print(f"{PROG}: invalid config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as err:
        print(
            f"{PROG}: cannot use the state directory: {err.strerror}: {err.filename}",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except Exception as err:
        print(f"{PROG}: cannot start: {safe_error(err)}", file=sys.stderr)
        return EXIT_FAILURE
    handler = make_handler(notifier, web)
    servers: list[_Server] = []
    for address in addresses:
        try:
            servers.append(_Server(bind(address), handler, web))
        except OSError as err:
            for server in servers:
                server.server_close()
            notifier.close()
            print(f"{PROG}: {ListenError(address, err)}", file=sys.stderr)
            return EXIT_FAILURE
    stop = threading.Event()

    def on_hup(signum, frame):
        threading.Thread(
            target=reload_all, args=(notifier, web), name="reload", daemon=True
        ).start()

    def on_term(signum, frame):
        stop.set()

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    for server in servers:
        log.info("listening", extra={"address": server.address, "web": web.current.describe()})
    try:
        serve(servers, stop)
    finally:
        notifier.close()
    log.info("stopped")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["test"]:
        return test_main(argv[1:])
    return serve_main(argv)


if __name__ == "__main__":
    sys.exit(main())
