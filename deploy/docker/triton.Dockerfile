# syntax=docker/dockerfile:1.7
# NVIDIA Triton with what our exported Python-backend models import (atlaspatch.encoder_service,
# atlaspatch.segmenter_service, atlaspatch.api and their libraries). Mount the repository from
# `atlaspatch export-triton` at /models.
#
#   docker build -f deploy/docker/triton.Dockerfile -t atlaspatch-triton:0.1.0 .
#
# Where nvcr.io cannot be reached, build on the base made from PyPI (tritonserver.Dockerfile):
#   --build-arg TRITON_BASE=tritonserver-pytriton:0.7.0

ARG TRITON_BASE=nvcr.io/nvidia/tritonserver:25.10-py3
FROM ${TRITON_BASE}
# As in atlaspatch.Dockerfile: a proxy's CA bundle and local wheels, paths inside the build.
ARG PIP_CERT
ARG PIP_FIND_LINKS
USER root
# Triton's Python backend runs the image's own Python, so the packages go there.
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_BREAK_SYSTEM_PACKAGES=1
# torch and its CUDA libraries in six layers, as in atlaspatch.Dockerfile.
RUN --mount=type=bind,source=deploy/docker/torch-layers.sh,target=/tmp/torch-layers.sh \
    sh /tmp/torch-layers.sh lock torch==2.14.1 torchvision==0.29.1 numpy==1.26.4
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
RUN --mount=type=bind,source=deploy/triton/model-requirements.txt,target=/tmp/model-requirements.txt \
    SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2==1.1.0 \
    && pip install -r /tmp/model-requirements.txt
# The models import the services' packages and the API package they stand on, nothing else.
COPY proto/atlaspatch_api/ /opt/atlaspatch/src/atlaspatch/api/
COPY segmenter_service/ /opt/atlaspatch/src/atlaspatch/segmenter_service/
COPY encoder_service/ /opt/atlaspatch/src/atlaspatch/encoder_service/
# Triton's Python backend ignores PYTHONPATH: a .pth file puts the code on its path.
RUN printf '/opt/atlaspatch/src\n' > \
    "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/atlaspatch.pth"
USER triton-server
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/v2/health/ready"]
ENTRYPOINT ["tritonserver"]
CMD ["--model-repository=/models", "--grpc-port=8001", "--metrics-port=8002"]
