# syntax=docker/dockerfile:1.7
# A Triton Inference Server base image made from public packages alone: the tritonserver that
# the nvidia-pytriton wheel ships, laid out as NVIDIA's NGC image lays it (the server on PATH,
# /opt/tritonserver/backends/python, `python3` and `pip` of the Python backend first on PATH,
# the user triton-server). For machines that cannot pull nvcr.io; triton.Dockerfile builds on
# it with --build-arg TRITON_BASE=<this image>. The NGC image remains the one to use on GPUs.
#
#   docker build -f deploy/docker/tritonserver.Dockerfile -t tritonserver-pytriton:0.7.0 .

ARG BASE=debian:bookworm-slim
FROM ${BASE}
# As in atlaspatch.Dockerfile: a proxy's CA bundle and local wheels, paths inside the build.
ARG PIP_CERT
ARG PIP_FIND_LINKS
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The Python backend's stub embeds libpython: the shared library of the image's Python.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv curl ca-certificates \
    && apt-get install -y --no-install-recommends \
        "libpython$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --create-home --shell /usr/sbin/nologin triton-server
ENV PATH=/opt/python/bin:$PATH
# The wheel keeps one backend stub per Python version: the backend gets this Python's.
RUN --mount=type=bind,source=deploy/triton/requirements.txt,target=/tmp/requirements.txt \
    python3 -m venv /opt/python \
    && pip install --upgrade pip setuptools wheel \
    && pip install $(grep -E '^nvidia-pytriton==' /tmp/requirements.txt) \
    && site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    && mkdir -p /opt/tritonserver/backends/python \
    && ln -s "$site/pytriton/tritonserver/bin" /opt/tritonserver/bin \
    && ln -s "$site"/pytriton/tritonserver/backends/python/* /opt/tritonserver/backends/python/ \
    && ln -s "$site/pytriton/tritonserver/python_backend_stubs/$version/triton_python_backend_stub" \
        /opt/tritonserver/backends/python/ \
    && ln -s /opt/tritonserver/bin/tritonserver /usr/local/bin/tritonserver \
    && rm -rf /root/.cache
USER triton-server
WORKDIR /home/triton-server
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/v2/health/ready"]
ENTRYPOINT ["tritonserver"]
