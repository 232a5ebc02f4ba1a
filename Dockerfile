# exec-watchdog: slim, non-root, with a health check on /healthz.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WATCHDOG_HTTP_HOST=0.0.0.0 \
    WATCHDOG_HTTP_PORT=9464

WORKDIR /opt/exec-watchdog
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY statemachine ./statemachine
COPY consumers ./consumers
COPY producers ./producers
COPY adapters ./adapters
COPY app ./app
RUN pip install ".[postgres]" \
 && useradd --system --uid 10001 --home-dir /var/lib/exec-watchdog --create-home watchdog

USER watchdog
WORKDIR /var/lib/exec-watchdog
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)" || exit 1
ENTRYPOINT ["exec-watchdog"]
CMD ["run"]
