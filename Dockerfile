# One image for every Aftercare exporter, aftercare-job and aftercare-report.
#   docker build -t aftercare:0.1.0 .
#   docker run aftercare:0.1.0 database --config.file=/etc/aftercare/aftercare.yml --web.listen-address=:9851
# postgresql-client: pg_restore (backup verification), pg_dump (the demo backup).
FROM python:3.11.9-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client gzip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporters ./exporters
COPY reportgen ./reportgen
# state (runs, offsets, verification results) and the backup mount point
# belong to the unprivileged user the exporters run as
RUN pip install --no-cache-dir . \
    && useradd --system --home-dir /var/lib/aftercare aftercare \
    && mkdir -p /var/lib/aftercare/outbox /backups \
    && chown -R aftercare /var/lib/aftercare /backups
USER aftercare
EXPOSE 9850 9851 9852 9853 9854 9855
ENTRYPOINT ["aftercare-exporter"]
