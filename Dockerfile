# GodeX image. scripts/build_image.sh [BASE_IMAGE] builds it: it puts the dependency wheels (built on
# the host with `pip wheel`, plus pip/setuptools/wheel) in build/docker/wheels, so nothing here needs a
# package index. The base only needs python3 3.11 (pip and venv's ensurepip are not needed: pip runs
# from its own wheel), e.g. a local Debian base from debootstrap or python:3.11-slim-bookworm.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- stage 1: build the GodeX wheel from the work tree, offline ---------------------------------
FROM ${BASE_IMAGE} AS build
# Lets scripts/build_image.sh remove untagged leftovers of earlier builds (both stages carry it).
LABEL org.godex.build=stage1
WORKDIR /src
COPY build/docker/wheels/ /wheels/
COPY pyproject.toml README.md ./
COPY godex/ godex/
RUN set -eu; \
    pip_whl="$(ls /wheels/pip-*.whl)"; \
    python3 "$pip_whl/pip" wheel --no-index --find-links /wheels --no-deps \
        --disable-pip-version-check --wheel-dir /wheels .

# --- stage 2: install the wheels into a venv, run as a non-root user ----------------------------
FROM ${BASE_IMAGE}
LABEL org.godex.build=image
ARG GODEX_UID=10001
# The data volume is the working directory: the default config's relative paths
# (./data/sessions.db, ./data/trace.db, ./logs) land in it.
RUN groupadd --system --gid "${GODEX_UID}" godex \
 && useradd --system --uid "${GODEX_UID}" --gid godex --home-dir /var/lib/godex \
        --shell /usr/sbin/nologin godex \
 && mkdir -p /var/lib/godex /etc/godex \
 && chown godex:godex /var/lib/godex
COPY --from=build /wheels/ /tmp/wheels/
RUN set -eu; \
    python3 -m venv --without-pip /opt/godex; \
    pip_whl="$(ls /tmp/wheels/pip-*.whl)"; \
    /opt/godex/bin/python "$pip_whl/pip" install --no-index --find-links /tmp/wheels \
        --no-cache-dir --disable-pip-version-check godex; \
    rm -rf /tmp/wheels; \
    /opt/godex/bin/godex --version

ENV PATH=/opt/godex/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GODEX_HOST=0.0.0.0 \
    GODEX_PORT=5678
# Config: mount a file and name it (`-v ./godex.yaml:/etc/godex/godex.yaml:ro` with
# `serve --config /etc/godex/godex.yaml` or GODEX_CONFIG=/etc/godex/godex.yaml), or use the built-in
# default driven by env (DEEPSEEK_API_KEY, GODEX_HOST, GODEX_PORT, ...).
VOLUME ["/var/lib/godex"]
WORKDIR /var/lib/godex
USER ${GODEX_UID}:${GODEX_UID}
EXPOSE 5678
# No curl in a slim base: the image's own Python probes /health/live (the process serves;
# readiness, /health/ready, is for load balancers and depends on the providers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('GODEX_PORT', '5678'), timeout=4)"]
ENTRYPOINT ["godex"]
CMD ["serve"]
