# One image for every Aftercare exporter (and the report generator).
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client gzip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporters ./exporters
COPY reportgen ./reportgen
RUN pip install --no-cache-dir . && useradd --system --home-dir /var/lib/aftercare aftercare \
    && mkdir -p /var/lib/aftercare && chown aftercare /var/lib/aftercare
USER aftercare
ENTRYPOINT ["aftercare-exporter"]
