"""aftercare-job run --config.file F --job NAME -- COMMAND...: run and record a data-exchange job.

Exit code: the job's own (128+N if it died of signal N; 127 if the command
was not found); 2 only for a usage mistake, before anything ran.  A config
that cannot be read, or a job it does not name, never stops the job: it runs
unrecorded and a warning goes to stderr (the exporter will then see no new
success, and the job's deadline will pass).
"""

from __future__ import annotations

import argparse
import sys

from .version import version_line

EXIT_USAGE = 2
HELP_FLAGS = ("-h", "--help", "--version")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftercare-job",
        usage="aftercare-job run --config.file FILE --job NAME [--system NAME] "
        "[--records-file FILE] -- COMMAND [ARG...]",
        description="Run a data-exchange job and record its start, end, exit code and record "
        "count for the exchange exporter. The job may print AFTERCARE_RECORDS=<n> on "
        "stdout, or write <n> to --records-file.",
    )
    parser.add_argument("verb", choices=["run"], help="run: run the command and record the run")
    parser.add_argument("--version", action="version", version=version_line("aftercare-job"))
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default="aftercare.yml",
        help="the aftercare.yml naming the job (default: %(default)s)",
    )
    parser.add_argument(
        "--job", required=True, help="the exchange job's name in the config (required)"
    )
    parser.add_argument(
        "--system",
        help="the system the job belongs to, when two systems "
        "have a job of this name (default: the only one)",
    )
    parser.add_argument(
        "--records-file",
        dest="records_file",
        help="a file the job writes its record count to "
        "(default: none, AFTERCARE_RECORDS=<n> on stdout only)",
    )
    return parser


def find_store(config_file: str, job: str, system: str | None):
    """The job's run store, or None (with a warning) if the config does not lead to one."""
    from .config import ConfigError, load_config
    from .exchange.jobrun import warn
    from .exchange.state import RunStore

    try:
        config = load_config(config_file)
    except ConfigError as err:
        warn(f"invalid config, the run is not recorded: {err}")
        return None
    owners = [
        s.name
        for s in config.systems
        if any(j.name == job for j in s.exchange) and (system is None or s.name == system)
    ]
    if len(owners) != 1:
        where = f"system {system!r}" if system else config_file
        warn(
            f"no exchange job {job!r} in {where}, the run is not recorded"
            if not owners
            else (
                f"exchange job {job!r} is in several systems ({', '.join(owners)}): "
                "pass --system; the run is not recorded"
            )
        )
        return None
    return RunStore(config.defaults.state_dir, owners[0], job)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if "--" not in argv and any(flag in argv for flag in HELP_FLAGS):
        try:
            parser.parse_args(argv)
        except SystemExit as stop:  # --help and --version exit 0 after printing
            return EXIT_USAGE if stop.code else 0
    if "--" not in argv:
        parser.print_usage(sys.stderr)
        print("aftercare-job: error: the job's command goes after '--'", file=sys.stderr)
        return EXIT_USAGE
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    try:
        args = parser.parse_args(options)
    except SystemExit as stop:
        return EXIT_USAGE if stop.code else 0
    if not command:
        parser.print_usage(sys.stderr)
        print("aftercare-job: error: no command after '--'", file=sys.stderr)
        return EXIT_USAGE
    from .exchange.jobrun import run_job

    store = find_store(args.config_file, args.job, args.system)
    return run_job(store, command, args.records_file)


if __name__ == "__main__":
    sys.exit(main())
