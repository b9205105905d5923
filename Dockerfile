# reports-bot: a Telegram bot that answers questions about a folder of news reports.
#
#   docker build -t reports-bot .
#   docker run -d -e TELEGRAM_BOT_TOKEN=... -v "$PWD/reports:/data/reports:ro" reports-bot
#
# BASE_IMAGE must provide `python3` with the venv module (python:3.12-slim does; CI passes a
# Debian stand-in built by .ci/podman-setup). Both stages use the same base so the venv's
# interpreter symlink stays valid in the final image.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE} AS builder

# Optional: an index URL for pip when the default one is not reachable from the build
# (CI passes the host's configured index, if any). Never a credential.
ARG PIP_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# A venv, not a system-wide pip install: Debian's python3 refuses those (PEP 668), and the
# venv is one directory the final stage can copy.
RUN python3 -m venv /opt/venv
# .dockerignore lets in only what the package needs (pyproject, bot/, retrieval/, seeds/).
COPY . .
# Then drop what only building needed: pip itself and the libraries' own test suites
# (numpy's alone are ~17 MB).
RUN /opt/venv/bin/python -m pip install --no-cache-dir . \
    && /opt/venv/bin/python -m pip uninstall --yes pip setuptools \
    && find /opt/venv -depth -type d -path '*/site-packages/*/tests' -exec rm -rf {} +


FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="reports-bot" \
      org.opencontainers.image.description="Answers questions about news reports by quoting the passage that answers them."

# A fixed numeric user: the image runs as non-root even where user names cannot be resolved.
# Home is the state directory so nothing tries to write to a missing home.
RUN groupadd --gid 10001 bot \
    && useradd --no-log-init --uid 10001 --gid bot \
       --home-dir /data/state --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir -p /data/state \
    && chown 10001:10001 /data/state

COPY --from=builder /opt/venv /opt/venv
# The seed reports: what the bot answers from when nothing is mounted on /data/reports.
COPY seeds/ /data/reports/

# No token here: pass TELEGRAM_BOT_TOKEN at run time (env_file in compose.yaml).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REPORTS_DIR=/data/reports \
    DATA_DIR=/data/state \
    METRICS_PORT=9464 \
    METRICS_LISTEN=0.0.0.0

# /metrics, /healthz and /readyz (METRICS_PORT). Every interface inside the container, so a
# Prometheus on the container network can scrape it; it is published only if you -p it.
EXPOSE 9464

VOLUME ["/data/state"]
USER 10001:10001

# The bot touches a heartbeat file in DATA_DIR from its job queue; `health` fails when it is
# stale, so a hung event loop reads as unhealthy, not just a dead process. With METRICS_PORT
# set (as here) it then asks /readyz too: the loop answers now, the index is loaded and the
# state file reads (no curl in the image: `health` speaks HTTP itself, with a 3 s timeout).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["reports-bot", "health"]

# Exec form: the bot is PID 1 and receives SIGTERM from `docker stop` directly.
ENTRYPOINT ["reports-bot"]
CMD ["run"]
