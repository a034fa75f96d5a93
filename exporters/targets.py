"""aftercare-exporter targets: Prometheus file_sd target files from aftercare.yml.

One config drives every scrape target.  ``node.json`` lists each system's hosts
(their node_exporter) labelled ``system``, ``host`` and ``role`` plus the host's own
``labels``; ``aftercare-<exporter>.json`` gives the address of each Aftercare
exporter, scraped by the job of that name.  An exporter's series carry their own
``system`` and target labels, so its targets set none (a ``system`` target label
would turn them into ``exported_system``).  Files are replaced atomically, so a
Prometheus watching them never reads half a file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .areas import ALL_PORT, AREAS, exporters
from .config import Config, ConfigError, load_config

EXIT_OK, EXIT_CONFIG = 0, 2
NODE_FILE = "node.json"
DEFAULT_EXPORTER_ADDRESS = "localhost:{port}"


def node_targets(config: Config) -> list[dict]:
    """One target group per host: its node_exporter address and labels."""
    return [
        {
            "targets": [host.address],
            "labels": {**host.labels, "system": system.name, "host": host.name, "role": host.role},
        }
        for system in config.systems
        for host in system.hosts
    ]


def exporter_ports(mode: str) -> dict[str, int]:
    """Exporter name -> default port: one per area's exporter, or the single ``all``."""
    if mode == "all":
        return {"all": ALL_PORT}
    ports = {a.exporter: a.port for a in AREAS if a.exporter and a.port is not None}
    return {name: ports[name] for name in exporters()}


def exporter_targets(template: str, mode: str) -> dict[str, list[dict]]:
    """File name -> target groups of each Aftercare exporter's scrape job."""
    return {
        f"aftercare-{name}.json": [
            {"targets": [template.format(exporter=name, port=port)], "labels": {}}
        ]
        for name, port in exporter_ports(mode).items()
    }


def all_files(config: Config, template: str, mode: str) -> dict[str, list[dict]]:
    return {NODE_FILE: node_targets(config), **exporter_targets(template, mode)}


def write_atomically(path: Path, groups: list[dict]) -> None:
    text = json.dumps(groups, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def check_template(template: str) -> str:
    try:
        template.format(exporter="services", port=1)
    except (KeyError, IndexError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected a host:port template using {{exporter}} and {{port}}, got {template!r}"
        ) from None
    return template


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftercare-exporter targets",
        description="Write Prometheus file_sd target files for the hosts' node_exporters "
        f"({NODE_FILE}) and for Aftercare's exporters (aftercare-<exporter>.json).",
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default="aftercare.yml",
        help="the aftercare.yml naming the systems and their hosts",
    )
    parser.add_argument("--out", required=True, help="the directory Prometheus reads them from")
    parser.add_argument(
        "--exporter-address",
        dest="template",
        type=check_template,
        default=DEFAULT_EXPORTER_ADDRESS,
        help="where the exporters listen, {exporter} and {port} replaced "
        "(default %(default)s; compose: exporter-{exporter}:{port})",
    )
    parser.add_argument(
        "--exporters",
        choices=["areas", "all"],
        default="areas",
        help="one exporter per area (default) or one `aftercare-exporter all`",
    )
    return parser


def targets_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config_file)
    except ConfigError as err:
        print(f"aftercare-exporter: invalid config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    out = Path(args.out)
    if not out.is_dir():
        print(f"aftercare-exporter: --out {args.out}: not a directory", file=sys.stderr)
        return EXIT_CONFIG
    files = all_files(config, args.template, args.exporters)
    try:
        for name, groups in files.items():
            write_atomically(out / name, groups)
    except OSError as err:
        print(
            f"aftercare-exporter: --out {args.out}: cannot write: {err.strerror}", file=sys.stderr
        )
        return EXIT_CONFIG
    hosts = len(files[NODE_FILE])
    print(f"{args.out}: {hosts} host(s) in {NODE_FILE}, {len(files) - 1} exporter target file(s)")
    return EXIT_OK
