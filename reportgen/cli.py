"""aftercare-report: the monthly health assessment (its issue builds it)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("aftercare-report: not implemented yet (the health report is still to be built)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
