"""aftercare-exporter: serve one inspection area (or all), check a config file, or write
the Prometheus scrape targets it describes."""

from __future__ import annotations

import argparse
import sys

from .areas import AREAS
from .config import ConfigError, load_config

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def check_config(file: str) -> int:
    try:
        config = load_config(file)
    except ConfigError as err:
        print(f"aftercare-exporter: invalid config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    counts = {
        area: sum(len(getattr(s, area)) for s in config.systems)
        for area in (a.config_key for a in AREAS)
    }
    print(
        f"{file}: valid: {len(config.systems)} system(s); "
        + ", ".join(f"{n} {area}" for area, n in counts.items())
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check-config"]:
        parser = argparse.ArgumentParser(prog="aftercare-exporter check-config")
        parser.add_argument(
            "file",
            nargs="?",
            default="aftercare.yml",
            help="the aftercare.yml to validate (default: %(default)s)",
        )
        return check_config(parser.parse_args(argv[1:]).file)
    if argv[:1] == ["targets"]:
        from .targets import targets_main

        return targets_main(argv[1:])
    from .serve import serve_main

    return serve_main(argv)


if __name__ == "__main__":
    sys.exit(main())
