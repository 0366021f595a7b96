# syntax=docker/dockerfile:1.7
# GPU image of the model services: `atlaspatch serve segmenter|encoder`.
#
#   docker build -f deploy/docker/services.Dockerfile -t atlaspatch-services:0.1.0 .
#   docker build ... --build-arg WEIGHTS=weights/   # bake a folder of weights into the image
#   podman build --format docker --build-arg CUDA_BASE=debian:bookworm ...   # any Debian-like base
#
# Without baked weights, mount them at /opt/atlaspatch/weights (read-only) at run time.

ARG CUDA_BASE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

FROM ${CUDA_BASE} AS build
# Behind a TLS-intercepting proxy, its CA bundle; wheels on local disk (torch's are large):
# paths inside the build, e.g. mounted with `podman build --volume HOST:PATH:ro`. Empty: unused.
ARG PIP_CERT=""
ARG PIP_FIND_LINKS=""
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first; sam2 builds against it, without its optional CUDA extension.
RUN pip install --upgrade pip setuptools wheel \
    && pip install torch==2.14.1 torchvision==0.29.1 \
    && SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2==1.1.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY orchestrator/ orchestrator/
COPY segmenter_service/ segmenter_service/
COPY encoder_service/ encoder_service/
COPY client/ client/
COPY proto/ proto/
RUN pip install .

FROM ${CUDA_BASE} AS runtime
ARG WEIGHTS=deploy/docker/no-weights
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin atlaspatch
COPY --from=build /opt/venv /opt/venv
COPY --chown=10001:10001 ${WEIGHTS} /opt/atlaspatch/weights
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/opt/atlaspatch/weights/huggingface \
    ATLASPATCH_WEIGHTS_DIR=/opt/atlaspatch/weights \
    ATLASPATCH_HOST=0.0.0.0 \
    ATLASPATCH_PORT=50051
USER 10001
EXPOSE 50051 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["atlaspatch", "serve", "health"]
ENTRYPOINT ["atlaspatch", "serve"]
CMD ["encoder"]
