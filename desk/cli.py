"""aftercare-desk migrate | useradd | import-runbooks | serve."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from exporters.listen import ListenAddress, bind, parse_listen_address
from exporters.schema import ConfigError
from exporters.version import version_line

from .config import ROLES, DeskConfig, load_desk_config

PROG = "aftercare-desk"
EXIT_CONFIG = 2
DEFAULT_PORT = 9860
log = logging.getLogger("aftercare.desk")


def _listen(value: str) -> ListenAddress:
    try:
        return parse_listen_address(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="The Aftercare maintenance desk.")
    parser.add_argument("--version", action="version", version=version_line(PROG))
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default=None,
        help="the desk.yml to read (default: none, SQLite aftercare-desk.db)",
    )
    parser.add_argument(
        "--database",
        default=None,
        help="database URL, overriding the config's (sqlite:///FILE, "
        "postgresql://...; default: the config's)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "migrate",
        help="create or upgrade the schema, create the config's accounts and import the runbooks",
    )
    add = commands.add_parser("useradd", help="create an account or set its password")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument(
        "--customer", default="", help="the customer a customer account sees (default: none)"
    )
    add.add_argument(
        "--password-file",
        default=None,
        help="file holding the password (default: ask on the terminal)",
    )
    runbooks = commands.add_parser("import-runbooks", help="index a runbooks directory")
    runbooks.add_argument("directory")
    serve = commands.add_parser("serve", help="serve the web application")
    serve.add_argument(
        "--web.listen-address",
        dest="listen",
        type=_listen,
        action="append",
        metavar="ADDRESS",
        help=f"address to listen on, repeatable (default: :{DEFAULT_PORT})",
    )
    serve.add_argument(
        "--web.config.file",
        dest="web_config",
        default=None,
        help="exporter-toolkit web config: TLS (default: plain HTTP)",
    )
    return parser


def _engine(config: DeskConfig, override: str | None):
    from .db import make_engine

    return make_engine(override or config.database)


def _read_password(file: str | None) -> str:
    if file:
        return Path(file).read_text(encoding="utf-8").strip()
    return getpass.getpass("password: ")


def cmd_migrate(config: DeskConfig, engine) -> int:
    from sqlalchemy import select

    from . import kb
    from .auth import hash_password
    from .db import migrate, secret_key, sessions
    from .models import User

    migrate(engine)
    secret_key(engine)
    with sessions(engine)() as db:
        for name, account in config.accounts.items():
            user = db.scalars(select(User).where(User.username == name)).first()
            if user is None:
                user = User(username=name, role=account.role, customer=account.customer)
                db.add(user)
            user.role, user.customer = account.role, account.customer
            if account.password_file:
                user.password_hash = hash_password(_read_password(account.password_file))
        runbooks = config.runbooks_dir or _shipped_runbooks()
        count = kb.import_runbooks(db, runbooks) if runbooks else 0
        db.commit()
    print(
        f"{PROG}: schema at head; {len(config.accounts)} account(s) from the config; "
        f"{count} runbook(s) indexed"
    )
    return 0


def _shipped_runbooks() -> str:
    here = Path(__file__).resolve().parents[1] / "docs" / "runbooks"
    return str(here) if here.is_dir() else ""


def cmd_useradd(args, config: DeskConfig, engine) -> int:
    from sqlalchemy import select

    from .auth import hash_password
    from .db import sessions
    from .handling import audit
    from .models import User

    if args.role == "customer" and not args.customer:
        print(f"{PROG}: useradd: a customer account needs --customer", file=sys.stderr)
        return EXIT_CONFIG
    password = _read_password(args.password_file)
    if len(password) < 8:
        print(f"{PROG}: useradd: the password needs at least 8 characters", file=sys.stderr)
        return EXIT_CONFIG
    with sessions(engine)() as db:
        user = db.scalars(select(User).where(User.username == args.username)).first()
        if user is None:
            user = User(username=args.username)
            db.add(user)
        user.role, user.customer = args.role, args.customer if args.role == "customer" else ""
        user.password_hash = hash_password(password)
        audit(db, "cli", "useradd", f"user:{args.username}", args.role)
        db.commit()
    print(f"{PROG}: account {args.username} ({args.role}) saved")
    return 0


def cmd_serve(args, config: DeskConfig, engine) -> int:
    from werkzeug.serving import make_server

    from exporters.webconfig import load_web_config

    from .web import create_app

    web = load_web_config(args.web_config)
    context = web.ssl_context()
    app = create_app(config, engine, tls=context is not None)
    servers = []
    for address in args.listen or [ListenAddress("", DEFAULT_PORT)]:
        try:
            sock = bind(address)
            sock.listen(128)
        except OSError as err:
            print(f"{PROG}: cannot listen on {address}: {err.strerror}", file=sys.stderr)
            return 1
        host = "::" if sock.family == socket.AF_INET6 else "0.0.0.0"
        server = make_server(
            host, address.port, app, threaded=True, ssl_context=context, fd=sock.fileno()
        )
        sock.close()
        servers.append(server)
        scheme = "https" if context else "http"
        print(f"{PROG}: listening on {scheme}://{address}", file=sys.stderr, flush=True)
    stop = threading.Event()
    if config.prometheus_url:
        from .db import sessions
        from .poller import Poller

        Poller(config, sessions(engine), stop).start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    stop.wait()
    for server in servers:
        server.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        import flask  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        print(
            f"{PROG}: the desk needs the [desk] extra: pip install 'aftercare[desk]'",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        config = load_desk_config(args.config_file)
        engine = _engine(config, args.database or os.environ.get("AFTERCARE_DESK_DATABASE"))
        if args.command == "migrate":
            return cmd_migrate(config, engine)
        if args.command == "useradd":
            return cmd_useradd(args, config, engine)
        if args.command == "import-runbooks":
            from . import kb
            from .db import sessions

            with sessions(engine)() as db:
                count = kb.import_runbooks(db, args.directory)
                db.commit()
            print(f"{PROG}: {count} runbook(s) indexed")
            return 0
        return cmd_serve(args, config, engine)
    except ConfigError as err:
        print(f"{PROG}: invalid config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as err:
        print(f"{PROG}: {err.filename or ''}: {err.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as err:  # the database refused, ...: one line, never a traceback
        from exporters.metrics import safe_error

        print(f"{PROG}: {type(err).__name__}: {safe_error(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
