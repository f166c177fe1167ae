# srec: one image for `srec api` and `srec worker` (see docker-compose.yml).
#
#   docker build -t srec .
#   docker run --rm -e SREC_TEMPORAL_ADDRESS=temporal:7233 srec           # a worker
#   docker run --rm -p 8080:8080 srec srec api                            # the API

# --- build: install the project and its dependencies into a venv -------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
RUN python -m venv /opt/srec
# Only what the wheel contains: tests, bench and the dev tools stay out of the image.
COPY pyproject.toml ./
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY api ./api
# The `postgres` extra brings the psycopg driver for SREC_DATABASE_URL=postgresql+psycopg://
RUN /opt/srec/bin/pip install ".[postgres]"

# --- runtime ------------------------------------------------------------------------
FROM python:3.11-slim

# ffmpeg from Debian: the ffmpeg/streamlink engines and the remux/thumbnail processors.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid so that bind-mounted recordings get a predictable owner.
# /data/recordings exists (owned by srec) before the VOLUME line, so a fresh named
# volume mounted there is initialised writable for the non-root user.
RUN groupadd --system --gid 10001 srec \
    && useradd --system --uid 10001 --gid srec --create-home --home-dir /home/srec srec \
    && mkdir -p /data/recordings \
    && chown -R srec:srec /data

COPY --from=build /opt/srec /opt/srec

ENV PATH=/opt/srec/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SREC_DATA_DIR=/data \
    SREC_API_HOST=0.0.0.0 \
    SREC_API_PORT=8080

USER srec
WORKDIR /home/srec
VOLUME ["/data"]
# the API; 9464 is a worker's --metrics-port (SREC_METRICS_PORT) when set
EXPOSE 8080 9464

# The worker handles SIGTERM: recordings finalise their files before it exits.
STOPSIGNAL SIGTERM
CMD ["srec", "worker"]
