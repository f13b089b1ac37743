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

# --- build: wheels of jeugdhub and every dependency (nothing compiles in the runtime stage) -----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN python -m pip wheel --wheel-dir /wheels .

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
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links /wheels jeugdhub
# The Avro contract is read at run time from files (services/contracts/schemas.py); it is not
# package data, so it is copied here and named by JEUGDHUB_SCHEMA_DIR.
COPY schemas/avro /opt/jeugdhub/schemas/avro
ENV JEUGDHUB_SCHEMA_DIR=/opt/jeugdhub/schemas/avro
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
