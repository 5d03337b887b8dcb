# syntax=docker/dockerfile:1
# OrchestROUTER: one image, two entry points.
#   docker run IMAGE                 -> orchestrouter serve-router (port 50051)
#   docker run IMAGE serve-scorer    -> orchestrouter serve-scorer (port 50052)
# Each refuses to start without ORCHESTROUTER_AUTH_TOKENS_FILE (or mTLS), since a container's port
# is reachable from other hosts; ORCHESTROUTER_ALLOW_UNAUTHENTICATED=true waives that where
# something else guards the port (deploy/README.md).
# The image holds the two services and nothing of training: .dockerignore keeps
# scorer/orchestrouter/training out of the build context, and only the `serve` extra is installed,
# at the versions pinned in requirements.lock.
# The default router model (scorer/orchestrouter/scorer/models/default.onnx) is installed inside the package; a
# different one is mounted as a volume and named by ORCHESTROUTER_SCORER_MODEL, e.g.
#   docker run -v "$PWD/router.onnx:/models/router.onnx:ro" \
#     -e ORCHESTROUTER_SCORER_MODEL=/models/router.onnx IMAGE serve-scorer
# Both stages use the same base image, so the virtual environment copied from the first
# finds the same interpreter at the same path in the second.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/orchestrouter
ENV PATH=/opt/orchestrouter/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY proto/ proto/
COPY clients/ clients/
COPY router_service/ router_service/
# The scorer package carries the default router model: scorer/orchestrouter/scorer/models/default.onnx.
COPY scorer/ scorer/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --prefer-binary -c requirements.lock '.[serve]' \
 && pip uninstall --yes pip \
 && python -c "from orchestrouter.scorer.artifact import DEFAULT_MODEL_PATH as p; assert p.is_file(), p" \
 && python -c "import importlib.util as u; assert u.find_spec('orchestrouter.training') is None" \
 && orchestrouter --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="orchestrouter" \
      org.opencontainers.image.description="gRPC LLM query router: router (serve-router) and MF scorer (serve-scorer)" \
      org.opencontainers.image.licenses="Apache-2.0"
# No compilers or package tools in the runtime image: python:*-slim ships none but pip, removed here.
RUN rm -rf /usr/local/bin/pip* /usr/local/lib/python3*/site-packages/pip* \
 && groupadd --gid 10001 orchestrouter \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin orchestrouter \
 && mkdir -p /models
COPY --from=build /opt/orchestrouter /opt/orchestrouter
# Bytecode was compiled at install time; the root filesystem is read-only in Kubernetes.
ENV PATH=/opt/orchestrouter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN python -c "from orchestrouter.scorer.artifact import DEFAULT_MODEL_PATH as p; assert p.is_file(), p"
USER 10001:10001
EXPOSE 50051 50052 8080
ENTRYPOINT ["orchestrouter"]
CMD ["serve-router"]
