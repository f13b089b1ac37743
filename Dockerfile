# syntax=docker/dockerfile:1
# The Jeugdhub image: one image, three services (`jeugdhub ingest|validate|aggregate`), plus the
# operator commands (`jeugdhub rebuild`, `jeugdhub tokens`, `jeugdhub topics`).
#
#   docker build -t jeugdhub:dev .
#
# On the project's machines (no Docker daemon, no container registry) `make image` builds it with
# buildah on a Debian base passed as PYTHON_IMAGE and checks it (deploy/k8s/README.md, "Build the
# image"). Pin the base image by digest in your registry's build.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: wheels of jeugdhub and every dependency, and the compiled core (nothing compiles in the
# runtime stage). The core (mypyc; services/compiled, docs/performance.md "Compiled core") is built
# from the same copy of services/ as the wheel: its digest covers the compiled modules' bytes and
# this Python, and the wheel installs those bytes on the same base, so the runtime finds it. A C
# compiler, Python's headers and mypy live in this stage only; the runtime gets the .so files.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
 && { python -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "libpython3.$(python -c 'import sys; print(sys.version_info[1])')-dev"; } \
 && rm -rf /var/lib/apt/lists/*
# mypy (with mypyc), setuptools and the stubs mypy needs, as in pyproject.toml's test extra.
RUN python -m pip install "mypy>=1.10" "setuptools>=68" "types-setuptools>=68" "types-python-dateutil>=2.9" \
        "types-PyYAML>=6.0"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN python -m pip wheel --wheel-dir /wheels . \
 && (cd /wheels && sha256sum *.whl) > /wheels.sha256
# mypy type-checks what the compiled modules import, so the dependencies are installed here too.
RUN python -m pip install --no-index --find-links /wheels jeugdhub \
 && JEUGDHUB_CORE_BUILD_DIR=/core JEUGDHUB_CORE_BUILD_CACHE=off python -m services.compiled build \
 && JEUGDHUB_CORE_BUILD_DIR=/core JEUGDHUB_CORE_BUILD=compiled python -c 'import services; print("core build:", services.BUILD)'

# --- runtime -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 jeugdhub \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/jeugdhub --no-create-home \
        --shell /usr/sbin/nologin jeugdhub \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/jeugdhub
# The wheels' checksums first: a layer cache (buildah --layers) does not key a RUN on what it
# mounts, so without this COPY a changed wheel was not installed (a stale jeugdhub, found by the
# core build check below). The list stays in the image: what was installed.
COPY --from=build /wheels.sha256 /opt/jeugdhub/wheels.sha256
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links /wheels jeugdhub
# The compiled core. JEUGDHUB_CORE_BUILD=compiled: a worker whose build does not match its sources
# refuses to start rather than run at half speed; the image build checks it here first. Which build
# runs: jeugdhub_core_build_info on /metrics. JEUGDHUB_CORE_BUILD=pure runs the source instead.
COPY --from=build /core /opt/jeugdhub/core
ENV JEUGDHUB_CORE_BUILD_DIR=/opt/jeugdhub/core
ENV JEUGDHUB_CORE_BUILD=compiled
# The Avro contract is read at run time from files (services/contracts/schemas.py); it is not
# package data, so it is copied here and named by JEUGDHUB_SCHEMA_DIR.
COPY schemas/avro /opt/jeugdhub/schemas/avro
ENV JEUGDHUB_SCHEMA_DIR=/opt/jeugdhub/schemas/avro
# The compiled core loads (the digest of the installed sources matches the copied build).
RUN python -c 'import services, services.validate.pipeline as p; from services.compiled import is_compiled; assert is_compiled(p), services.BUILD; print("core build:", services.BUILD)'
# `jeugdhub report` draws with matplotlib, which wants a writable cache directory (the root
# filesystem is read-only and HOME is not writable for uid 10001).
ENV MPLCONFIGDIR=/tmp/matplotlib
# faust writes "<app id>-data" into the working directory: in Kubernetes an emptyDir is mounted
# here because the root filesystem is read-only.
WORKDIR /var/lib/jeugdhub
USER 10001:10001
EXPOSE 8080 6066 6067
ENTRYPOINT ["jeugdhub"]
CMD ["--help"]
