# syntax=docker/dockerfile:1.7
# Small CPU image of the orchestrator: reads slides, calls the services, writes HDF5.
#
#   docker build -f deploy/docker/orchestrator.Dockerfile -t atlaspatch-orchestrator:0.1.0 .
#   docker run --rm -v $PWD/slides:/slides:ro -v $PWD/out:/output atlaspatch-orchestrator:0.1.0 \
#       process /slides -o /output --encoder-url encoder:50051 --segmenter-url segmenter:50052 ...

ARG PYTHON_BASE=python:3.11.14-slim-bookworm

FROM ${PYTHON_BASE} AS build
# As in services.Dockerfile: a proxy's CA bundle and local wheels, paths inside the build.
ARG PIP_CERT=""
ARG PIP_FIND_LINKS=""
# Where the CPU build of torch comes from (PyPI's is the CUDA one).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# A plain Debian base has no Python: the python image's is used where it is there.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && (command -v python3 || apt-get install -y --no-install-recommends python3 python3-venv python3-dev) \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The CPU build of torch: a tenth of the CUDA one, and enough for the in-process fallback.
RUN pip install --upgrade pip setuptools wheel \
    && pip install --index-url "$TORCH_INDEX_URL" torch==2.14.1 torchvision==0.29.1 \
    && SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2==1.1.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY orchestrator/ orchestrator/
COPY segmenter_service/ segmenter_service/
COPY encoder_service/ encoder_service/
COPY client/ client/
COPY proto/ proto/
RUN pip install .

FROM ${PYTHON_BASE} AS runtime
RUN (command -v python3 || (apt-get update \
        && apt-get install -y --no-install-recommends python3 \
        && rm -rf /var/lib/apt/lists/*)) \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin atlaspatch
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
WORKDIR /home/atlaspatch
# A batch job, not a server: nothing to health-check; its exit status is the verdict.
HEALTHCHECK NONE
ENTRYPOINT ["atlaspatch"]
CMD ["--help"]
