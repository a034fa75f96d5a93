"""aftercare-report's entry point: checks the [report] extra before importing the CLI."""

from __future__ import annotations

import sys

from exporters.extras import MissingExtra, require
from exporters.version import version_line


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:
        print(version_line("aftercare-report"))
        return 0
    try:
        require("report", "the report")
    except MissingExtra as err:
        print(f"aftercare-report: {err}", file=sys.stderr)
        return 2
    from .cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
