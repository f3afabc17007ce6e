# One image for both services (collector and ai-engine); the command picks the service.
# Multi-stage: wheels are built in a throw-away stage; the runtime stage is slim and non-root.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY microservices ./microservices
COPY backend ./backend
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json API_HOST=0.0.0.0 \
    REST_HISTORY_DIR=/data/history
RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data/history && chown -R app:app /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
USER app
EXPOSE 8001
# The collector's check reads its Redis heartbeat; the engine's calls GET /health.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "microservices.healthcheck"]
CMD ["python", "-m", "microservices.ai_engine"]
