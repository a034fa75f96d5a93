#!/usr/bin/env bash
# The one install recipe of Aftercare, used by the Dockerfile and by CI.
#
#   deploy/install.sh [--system-deps] [--extras LIST] [--wheel FILE | --wheel-dir DIR] VENV
#   deploy/install.sh --system-deps-only
#
# --system-deps       first apt-get install the Debian packages Aftercare needs at run time
#                     (only those missing; needs root): Pango for WeasyPrint's PDF, a CJK font
#                     for the Chinese report, the PostgreSQL client for pg_restore verification
# --system-deps-only  only that, no Python install
# --extras LIST       pip extras to install, comma list (default: all); "" for the base alone
#                     (database, integrations, report, pdf, all: see docs/install.md)
# --wheel FILE        install this wheel instead of building one from this source tree
# --wheel-dir DIR     keep the wheel built from this source tree in DIR
# VENV                the virtual environment to create (or reuse) and install into
#
# The wheel is installed non-editable, every dependency pinned by constraints.txt.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
RUNTIME_DEBS=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei
              postgresql-client gzip)
PYTHON="${PYTHON:-python3}"
system_deps=0 python_install=1 extras=all wheel="" wheel_dir="" venv=""

usage() { sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --system-deps) system_deps=1 ;;
    --system-deps-only) system_deps=1 python_install=0 ;;
    --extras) [ $# -ge 2 ] || usage; extras="$2"; shift ;;
    --extras=*) extras="${1#--extras=}" ;;
    --wheel) [ $# -ge 2 ] || usage; wheel="$2"; shift ;;
    --wheel=*) wheel="${1#--wheel=}" ;;
    --wheel-dir) [ $# -ge 2 ] || usage; wheel_dir="$2"; shift ;;
    --wheel-dir=*) wheel_dir="${1#--wheel-dir=}" ;;
    -h|--help) usage ;;
    -*) echo "install.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$venv" ] || usage; venv="$1" ;;
  esac
  shift
done
[ "$python_install" = 0 ] || [ -n "$venv" ] || usage

if [ "$system_deps" = 1 ]; then
  missing=()
  for p in "${RUNTIME_DEBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    rm -rf /var/lib/apt/lists/*
  fi
fi
[ "$python_install" = 1 ] || exit 0

export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
if [ -z "$wheel" ]; then
  # built from a clean copy of the sources: nothing stale from an earlier build/ gets in,
  # and the source tree is left untouched
  build="$(mktemp -d)"
  trap 'rm -rf "$build"' EXIT
  mkdir "$build/src"
  tar -C "$SRC" --exclude=__pycache__ -cf - pyproject.toml README.md exporters reportgen desk rules \
    | tar -C "$build/src" -xf -
  "$venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "${wheel_dir:-$build}" \
    "$build/src"
  wheel="$(ls "${wheel_dir:-$build}"/aftercare-*.whl)"
fi
spec="$wheel"
[ -z "$extras" ] || spec="$wheel[$extras]"
"$venv/bin/python" -m pip install --quiet --constraint "$SRC/constraints.txt" "$spec"
echo "install.sh: installed $(basename "$wheel")${extras:+[$extras]} into $venv" >&2
