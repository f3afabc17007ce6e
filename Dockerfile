# One image for both services (collector and ai-engine); the command picks the service.
# Multi-stage: the virtualenv is built in a throw-away stage; the runtime stage is slim and non-root.
# Base images are pinned by full version tag; dependencies come from the hash-checked lock.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements/runtime.lock requirements/runtime.lock
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY microservices ./microservices
COPY backend ./backend
# The project itself, built with the locked setuptools; its dependencies are already there.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation .

FROM python:3.11.14-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json API_HOST=0.0.0.0 \
    REST_HISTORY_DIR=/data/history LISTING_CACHE_DIR=/data/listings ML_MODEL_DIR=/data/models \
    PATH=/opt/venv/bin:$PATH
# libgomp1: LightGBM's OpenMP runtime (the ml extra, in runtime.lock)
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data/history /data/listings /data/models /data/store-spill && chown -R app:app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER app
EXPOSE 8001
# Liveness only, so an exchange or Redis outage never restarts a container: the engine's
# check calls GET /health/live, the collector's reads the age of COLLECTOR_LIVE_FILE.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "microservices.healthcheck"]
CMD ["python", "-m", "microservices.ai_engine"]
