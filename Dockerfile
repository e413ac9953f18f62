# One image for the receiver, the worker and the scheduler (docker-compose.yml picks the command).
# An exact version (the one the tests run on), so a rebuild next month gets the same Python.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY worker ./worker
# The versions in requirements.lock are the ones `make test` passed with.
RUN pip install --no-compile -c requirements.lock . \
    && useradd --system --uid 10001 --home-dir /app diamond
COPY rules ./rules
COPY plugin_config ./plugin_config

USER diamond
EXPOSE 8080
CMD ["diamond", "--help"]
