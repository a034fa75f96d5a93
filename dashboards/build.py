"""Generate dashboards/generated/<uid>.json from every dashboards/<name>.dashboard.py.

    python -m dashboards.build [--out DIR] [--check]

The output is deterministic (sorted keys, indent 2, trailing newline), so the
committed JSON can be compared byte for byte with a fresh generation.
``--check`` writes nothing and exits 1 when the committed files differ.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from grafanalib._gen import DashboardEncoder

SOURCE_DIR = Path(__file__).resolve().parent
GENERATED_DIR = SOURCE_DIR / "generated"
SUFFIX = ".dashboard.py"


def sources() -> list[Path]:
    """Every dashboard source, in name order."""
    return sorted(SOURCE_DIR.glob(f"*{SUFFIX}"))


def load(path: Path):
    """The ``dashboard`` object a <name>.dashboard.py defines."""
    name = path.name[: -len(SUFFIX)]
    spec = importlib.util.spec_from_file_location(f"dashboards.{name}_dashboard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dashboard


def render(dashboard) -> str:
    """The dashboard as Grafana JSON text."""
    data = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """{file name: JSON text} of every dashboard."""
    out: dict[str, str] = {}
    for path in sources():
        dashboard = load(path)
        out[f"{dashboard.uid}.json"] = render(dashboard)
    return out


def write(directory: Path) -> list[Path]:
    """Write every dashboard into directory, removing generated files no source makes any more."""
    directory.mkdir(parents=True, exist_ok=True)
    files = generate()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        target = directory / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def differences(directory: Path) -> list[str]:
    """File names whose committed JSON differs from a fresh generation (missing and stale
    included)."""
    files = generate()
    present = {p.name for p in directory.glob("*.json")}
    changed = [
        name
        for name, text in files.items()
        if name not in present or (directory / name).read_bytes() != text.encode("utf-8")
    ]
    return sorted(changed + [name for name in present - set(files)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards.build", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=GENERATED_DIR, help="output directory")
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the files in --out instead of writing them",
    )
    args = parser.parse_args(argv)
    if args.check:
        changed = differences(args.out)
        for name in changed:
            print(f"dashboards: {args.out / name} differs from a fresh generation", file=sys.stderr)
        return 1 if changed else 0
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
