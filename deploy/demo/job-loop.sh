#!/bin/sh
# Runs the demo data-exchange job through aftercare-job every 5 minutes.
set -u
while true; do
    aftercare-job run --config.file /etc/aftercare/aftercare.yml --job demo-upload \
        -- /demo/upload.sh /var/lib/aftercare/outbox
    sleep 300
done
