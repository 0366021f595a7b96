#!/bin/sh
# torch and the CUDA libraries it brings (5.8 GB) installed as six Docker layers of at most
# 1.2 GB instead of one: they pull in parallel, and building needs about half the disk: a builder
# writes two temporary copies of the layer it commits (with buildah, the services image took
# 24 GiB of disk to build with one layer, 13.5 GiB with six).
#
#   torch-layers.sh lock REQUIREMENT...   resolve the requirements into /opt/torch.lock
#   torch-layers.sh install N             install layer N of 6 (each in a RUN of its own)
#
# Packages come pinned and without dependencies, so each layer holds only its own; a layer whose
# packages are missing from the lock (a CPU-only torch has no nvidia-*) installs nothing, and the
# last takes whatever the others left. TORCH_INDEX_URL, when set, is the index torch comes from.
set -eu
LOCK=/opt/torch.lock
# Extended regexes of package names, one line per layer.
LAYERS='torch
nvidia-cudnn.*|nvidia-cusparselt.*
nvidia-cublas.*|nvidia-cufft.*|nvidia-cusolver.*
nvidia-.*|cuda-.*
triton
.*'

case "${1:-}" in
lock)
    shift
    pip install --dry-run --ignore-installed --quiet --report - \
        ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$@" |
        python3 -c 'import json, sys
for item in json.load(sys.stdin)["install"]:
    print(item["metadata"]["name"] + "==" + item["metadata"]["version"])' >"$LOCK"
    ;;
install)
    pattern=$(echo "$LAYERS" | sed -n "${2}p")
    [ -n "$pattern" ] || { echo "no layer $2: there are $(echo "$LAYERS" | wc -l)" >&2; exit 2; }
    packages=$(grep -iE "^($pattern)==" "$LOCK" || true)
    if [ -n "$packages" ]; then
        # shellcheck disable=SC2086 # one word per package
        pip install --no-deps ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} $packages
    fi
    ;;
*)
    echo "usage: $0 lock REQUIREMENT... | install N" >&2
    exit 2
    ;;
esac
