# syntax=docker/dockerfile:1
# ecs-provisioner image: `ecs-provisioner run` (worker, default) or any other sub-command, e.g.
# `docker run IMAGE simulator --host 0.0.0.0 --port 8700 --credential AK:SK`.
# Two stages: the builder installs the project and its dependencies into a venv (all of them ship
# wheels for CPython 3.11 on linux, so no compiler is needed even there); the final image gets
# only that venv on the same slim base, runs as a numeric non-root user and works with a
# read-only root filesystem (bytecode is compiled at build time, /tmp is the only writable path).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ONLY_BINARY=:all:
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY worker ./worker
# PIP_ONLY_BINARY fails the build instead of silently compiling a dependency from source; the
# project itself is pure Python and is built from this directory (the contract, schemas/, is its
# own distribution), with the `otel` extra (tracing stays off until OTEL_* asks for it).
RUN /opt/venv/bin/pip install --no-binary ecs-provisioner,ecs-provisioner-contract ./schemas ".[otel]" \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ecs-provisioner" \
      org.opencontainers.image.description="Kafka-driven, idempotent Huawei Cloud ECS provisioning worker" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["ecs-provisioner"]
CMD ["run"]
