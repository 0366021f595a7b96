#!/usr/bin/env bash
# Start the tritonserver shipped in the nvidia-pytriton wheel (CPU, Python backend) on
# 127.0.0.1, serving MODEL_REPOSITORY on GRPC_PORT. HTTP and metrics stay off.
#
#   deploy/triton/run-local.sh MODEL_REPOSITORY GRPC_PORT
#
# It needs the Triton environment (`make triton-env`: .venv-triton, with numpy < 2 as
# Triton's Python backend requires, torch and this project's code). Override its place with
# ATLASPATCH_TRITON_VENV.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 MODEL_REPOSITORY GRPC_PORT" >&2
  exit 2
fi
repository=$(cd "$1" && pwd)
port=$2
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
venv=${ATLASPATCH_TRITON_VENV:-$project/.venv-triton}
python=$venv/bin/python
if [ ! -x "$python" ]; then
  echo "$venv is missing: run 'make triton-env' first" >&2
  exit 1
fi
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
triton=$site/pytriton/tritonserver
# The wheel keeps one Python backend stub per Python version; give the backend the one that
# matches this environment, in a backend folder of this run's own.
version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
backends=$(mktemp -d "${TMPDIR:-/tmp}/atlaspatch-triton-backends.XXXXXX")
trap 'rm -rf "$backends"' EXIT
mkdir -p "$backends/python"
ln -s "$triton"/backends/python/* "$backends/python/"
ln -s "$triton/python_backend_stubs/$version/triton_python_backend_stub" "$backends/python/"
# The server links the wheel's bundled libraries; the Python backend stub links libpython.
pylib=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
export LD_LIBRARY_PATH="$pylib:$site/nvidia_pytriton.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The backend stub runs the `python3` first on PATH; the models find this project through
# the environment's atlaspatch-project.pth (`make triton-env`).
export PATH="$venv/bin:$PATH"
"$triton/bin/tritonserver" \
  --model-repository="$repository" \
  --backend-directory="$backends" \
  --grpc-address=127.0.0.1 --grpc-port="$port" \
  --allow-http=false --allow-metrics=false --allow-gpu-metrics=false \
  --backend-config=python,shm-default-byte-size=33554432 \
  --log-info=true --exit-on-error=true &
server=$!
# Forward a stop to the server, then clean up the backend folder (the trap) when it is gone.
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"; rm -rf "$backends"' TERM INT
wait "$server"
