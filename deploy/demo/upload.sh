#!/bin/sh
# The demo data-exchange job: writes an outbox file, "uploads" it, reports its records.
set -eu
outbox="${1:?usage: upload.sh OUTBOX_DIR}"
mkdir -p "$outbox"
file="$outbox/orders-$(date +%Y%m%d%H%M%S).xml"
echo "<orders count=\"20\"/>" > "$file"
sleep 2
rm -f "$file"
echo "AFTERCARE_RECORDS=20"
