#!/bin/sh
# The demo backup: pg_dump of the demo database every hour, keeping the last 5.
set -u
while true; do
    stamp=$(date +%Y%m%d%H%M%S)
    if pg_dump -h demo-db -U postgres -Fc -f "/backups/.demo-$stamp.partial" postgres; then
        mv "/backups/.demo-$stamp.partial" "/backups/demo-$stamp.dump"
    fi
    ls -1t /backups/demo-*.dump 2>/dev/null | tail -n +6 | xargs -r rm -f
    sleep 3600
done
