# syntax=docker/dockerfile:1
# One image per role, all from the same base so that every role runs the same code:
#   web        gunicorn serving stopsync.wsgi:app on port 5001 (also used by the migrator)
#   scheduler  the APScheduler pipeline worker (python -m stopsync.scheduler)
#   test       the whole test suite (pytest)
# Build one with: docker build --target web -t stopsync-web .

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# A fixed uid so that volume ownership is the same on every host.
RUN groupadd --system --gid 10001 stopsync \
 && useradd --system --uid 10001 --gid stopsync --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin stopsync
WORKDIR /app
# Requirements before the source: a code change does not reinstall the dependencies.
COPY requirements/ requirements/
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements/base.txt
COPY . .
# The source stays owned by root (read-only for the app); only the instance folder, which
# seeds the instance-data volume, belongs to the stopsync user. The build leftovers go so
# that /app (first on sys.path) holds no second copy of the package metadata.
# The compiled catalogues are build output (not in git): compile them before installing.
RUN pybabel compile -d stopsync/translations \
 && pip install --no-deps . \
 && rm -rf build ./*.egg-info \
 && chmod 0755 /app/entrypoint.sh \
 && mkdir -p /app/instance \
 && chown stopsync:stopsync /app/instance
# The instance folder (cache, locks, data) is /app/instance wherever the package imports from.
ENV STOPSYNC_INSTANCE_PATH=/app/instance
ENTRYPOINT ["/app/entrypoint.sh"]

FROM base AS web
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements/web.txt
ENV ROLE=web
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5001/healthz', timeout=4)"]
USER stopsync
CMD ["gunicorn", "--config", "python:stopsync.gunicorn_conf", "stopsync.wsgi:app"]

FROM base AS scheduler
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements/scheduler.txt
ENV ROLE=scheduler
USER stopsync
CMD ["python", "-m", "stopsync.scheduler"]

FROM base AS test
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements/test.txt
USER stopsync
# /app is read-only for the stopsync user: pytest keeps no cache there.
CMD ["pytest", "-p", "no:cacheprovider"]
