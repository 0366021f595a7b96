# syntax=docker/dockerfile:1.7
# The two AtlasPatch images, built from one Dockerfile: the services with torch and every other
# library (about 6 GB with CUDA), and the orchestrator with the client's libraries alone
# (`atlaspatch[client]`: no torch), which sends slides' tiles to the services.
#
#   docker build -f deploy/docker/atlaspatch.Dockerfile --target services -t atlaspatch-services:0.1.0 .
#   docker build -f deploy/docker/atlaspatch.Dockerfile --target orchestrator -t atlaspatch-orchestrator:0.1.0 .
#
#   services:      `atlaspatch serve segmenter|encoder` (GPU); bake weights with
#                  --build-arg WEIGHTS=weights/ or mount them at /opt/atlaspatch/weights.
#   orchestrator:  the `atlaspatch` CLI: reads slides, calls the services, writes HDF5. (To run
#                  everything in one process in a container: the services image with
#                  --entrypoint atlaspatch.)
#
# torch's wheels bring their own CUDA libraries: the base only needs the driver's user-space
# hooks, which NVIDIA's smallest CUDA image has. Any Debian-like base with Python >= 3.11 works
# (BASE), e.g. a CPU-only image: --build-arg BASE=debian:bookworm-slim
#                 --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# The orchestrator needs no CUDA: it is built on CLIENT_BASE (any Debian-like base likewise).
# Behind a TLS-intercepting proxy or with wheels on local disk (podman/buildah):
#   --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro --build-arg PIP_CERT=/etc/ssl/host-ca.crt
#   --volume /path/to/wheels:/wheels:ro --build-arg PIP_FIND_LINKS=/wheels

ARG BASE=nvidia/cuda:13.0.1-base-ubuntu24.04
ARG CLIENT_BASE=debian:bookworm-slim

# --- Python and the user every stage shares, on the services' base and on the client's -------
FROM ${BASE} AS python
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin atlaspatch

FROM ${CLIENT_BASE} AS client-python
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin atlaspatch

# --- every library, in layers of at most 1.2 GB: the project's code never rebuilds them --------
FROM python AS libraries
ARG PIP_CERT
ARG PIP_FIND_LINKS
# Empty: torch from PyPI (the CUDA build on Linux).
ARG TORCH_INDEX_URL=""
ENV PATH=/opt/venv/bin:$PATH
# The pins are pyproject.toml's. torch and its CUDA libraries come first, in six layers
# (torch-layers.sh says which and why).
RUN --mount=type=bind,source=pyproject.toml,target=/tmp/pyproject.toml \
    --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    python3 -m venv /opt/venv \
    && pip install --upgrade pip setuptools wheel \
    && sh /tmp/torch-layers.sh lock $(grep -oE '"torch(vision)?==[^"]+"' /tmp/pyproject.toml | tr -d '"')
RUN --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    sh /tmp/torch-layers.sh install 1
RUN --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    sh /tmp/torch-layers.sh install 2
RUN --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    sh /tmp/torch-layers.sh install 3
RUN --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    sh /tmp/torch-layers.sh install 4
RUN --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    sh /tmp/torch-layers.sh install 5
RUN --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    sh /tmp/torch-layers.sh install 6
# sam2 builds against that torch (without its optional CUDA extension, so no compiler is
# needed); then every other pin.
RUN --mount=type=bind,source=pyproject.toml,target=/tmp/pyproject.toml \
    python3 -c 'import tomllib; p = tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]; print(*p["dependencies"], *p["optional-dependencies"]["services"], *p["optional-dependencies"]["triton"], sep="\n")' > /tmp/requirements.txt \
    && SAM2_BUILD_CUDA=0 pip install --no-build-isolation $(grep -E '^sam2==' /tmp/requirements.txt) \
    && pip install -r /tmp/requirements.txt \
    && rm -rf /tmp/requirements.txt /root/.cache

# --- the client's libraries alone: the orchestrator reads slides and sends tiles ---------------
FROM client-python AS client-libraries
ARG PIP_CERT
ARG PIP_FIND_LINKS
ENV PATH=/opt/venv/bin:$PATH
RUN --mount=type=bind,source=pyproject.toml,target=/tmp/pyproject.toml \
    python3 -m venv /opt/venv \
    && pip install --upgrade pip setuptools wheel \
    && python3 -c 'import tomllib; print(*tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm -rf /tmp/requirements.txt /root/.cache

# --- the project, as a wheel (pure Python: built where no torch is) -----------------------------
FROM client-libraries AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY orchestrator/ orchestrator/
COPY segmenter_service/ segmenter_service/
COPY encoder_service/ encoder_service/
COPY client/ client/
COPY proto/ proto/
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheel .

FROM libraries AS app
# (Copied, not mounted: buildah 1.28 may start a stage before the one it mounts from is done.)
COPY --from=wheel /wheel/ /tmp/wheel/
RUN pip install --no-deps --no-index /tmp/wheel/*.whl && rm -rf /tmp/wheel
ENV PYTHONUNBUFFERED=1

# The client's venv with the project, pruned (prune-client.sh); the image takes a copy of it,
# so nothing pruned is left in a layer below.
FROM client-libraries AS client-app
COPY --from=wheel /wheel/ /tmp/wheel/
RUN --mount=type=bind,source=deploy/docker/prune-client.sh,target=/tmp/prune-client.sh \
    pip install --no-deps --no-index /tmp/wheel/*.whl && rm -rf /tmp/wheel \
    && sh /tmp/prune-client.sh /opt/venv

# --- the orchestrator: a batch job against the services, not a server; no torch ----------------
FROM client-python AS orchestrator
COPY --from=client-app /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
WORKDIR /home/atlaspatch
# Its exit status is the verdict: nothing to health-check.
HEALTHCHECK NONE
ENTRYPOINT ["atlaspatch"]
CMD ["--help"]

# --- the model services (the default target) ----------------------------------------------------
FROM app AS services
ARG WEIGHTS=deploy/docker/no-weights
COPY --chown=10001:10001 ${WEIGHTS} /opt/atlaspatch/weights
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    HF_HOME=/opt/atlaspatch/weights/huggingface \
    ATLASPATCH_WEIGHTS_DIR=/opt/atlaspatch/weights \
    ATLASPATCH_HOST=0.0.0.0 \
    ATLASPATCH_PORT=50051
USER 10001
WORKDIR /home/atlaspatch
EXPOSE 50051 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["atlaspatch", "serve", "health"]
ENTRYPOINT ["atlaspatch", "serve"]
CMD ["encoder"]
