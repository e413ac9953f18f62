# One image for the receiver, the worker and the scheduler (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip install --no-compile . \
    && useradd --system --uid 10001 --home-dir /app diamond
COPY rules ./rules
COPY plugin_config ./plugin_config

USER diamond
EXPOSE 8080
CMD ["diamond", "--help"]
