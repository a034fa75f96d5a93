# One image for every Aftercare exporter, aftercare-job and aftercare-report.
#   docker build -t aftercare:0.1.0 .
#   docker run aftercare:0.1.0 database --config.file=/etc/aftercare/aftercare.yml --web.listen-address=:9851
# Installed by deploy/install.sh, the same recipe CI runs: the Debian packages needed at run time
# (Pango and a CJK font for the PDF report, postgresql-client for pg_restore verification), then
# the wheel, non-editable, with every Python dependency pinned by constraints.txt.
FROM python:3.11.9-slim-bookworm
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY deploy/install.sh ./deploy/
COPY exporters ./exporters
COPY reportgen ./reportgen
COPY desk ./desk
COPY rules ./rules
# state (runs, offsets, verification results) and the backup mount point
# belong to the unprivileged user the exporters run as
RUN deploy/install.sh --system-deps --extras all /opt/aftercare \
    && useradd --system --home-dir /var/lib/aftercare aftercare \
    && mkdir -p /var/lib/aftercare/outbox /backups \
    && chown -R aftercare /var/lib/aftercare /backups \
    && cd / && rm -rf /root/.cache /src
ENV PATH=/opt/aftercare/bin:$PATH
USER aftercare
WORKDIR /var/lib/aftercare
EXPOSE 9850 9851 9852 9853 9854 9855
ENTRYPOINT ["aftercare-exporter"]
