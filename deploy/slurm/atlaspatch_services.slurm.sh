#!/usr/bin/env bash
# The segmenter and encoder services on one GPU node, for job arrays on CPU nodes to share.
# Writes their endpoints to $ENDPOINTS (source it before submitting the arrays):
#
#   mkdir -p logs && sbatch deploy/slurm/atlaspatch_services.slurm.sh
#   source ~/.atlaspatch/endpoints    # once it exists: ENCODER_URL, SEGMENTER_URL
#   mkdir -p logs && sbatch --array=0-99 --gres=none --export=ALL deploy/slurm/atlaspatch_features.slurm.sh
#SBATCH --job-name=atlaspatch-services
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --gres=gpu:1
#SBATCH --time=48:00:00
# (SLURM writes no log where logs/ does not exist: create it first, as above.)
#SBATCH --output=logs/%x-%j.out
set -euo pipefail

ENCODERS=${ENCODERS:-efficientnet_lite0}
SAM2_CHECKPOINT=${SAM2_CHECKPOINT:-$HOME/.atlaspatch/sam2/model.pth}
ENCODER_PORT=${ENCODER_PORT:-50051}
SEGMENTER_PORT=${SEGMENTER_PORT:-50052}
ENDPOINTS=${ENDPOINTS:-$HOME/.atlaspatch/endpoints}
ATLASPATCH=${ATLASPATCH:-atlaspatch}
# A shared token keeps other users' jobs out; the file is readable by you only.
TOKEN_FILE=${TOKEN_FILE:-$HOME/.atlaspatch/token}
mkdir -p "$(dirname "$ENDPOINTS")" "$(dirname "$TOKEN_FILE")"
[ -s "$TOKEN_FILE" ] || (umask 077 && head -c 32 /dev/urandom | base64 > "$TOKEN_FILE")
export ATLASPATCH_TOKEN
ATLASPATCH_TOKEN=$(cat "$TOKEN_FILE")
host=$(hostname -f)

"$ATLASPATCH" serve segmenter --host 0.0.0.0 --port "$SEGMENTER_PORT" --device cuda \
  --sam2-checkpoint "$SAM2_CHECKPOINT" &
"$ATLASPATCH" serve encoder --host 0.0.0.0 --port "$ENCODER_PORT" --device cuda \
  --encoders "$ENCODERS" &
trap 'kill -TERM $(jobs -p) 2>/dev/null; wait' TERM INT EXIT

until "$ATLASPATCH" serve health "$host:$ENCODER_PORT" && \
      "$ATLASPATCH" serve health "$host:$SEGMENTER_PORT"; do sleep 5; done
(umask 077 && cat > "$ENDPOINTS" <<ENV
export ENCODER_URL=$host:$ENCODER_PORT
export SEGMENTER_URL=$host:$SEGMENTER_PORT
export ATLASPATCH_TOKEN=\$(cat $TOKEN_FILE)
ENV
)
echo "services up; endpoints in $ENDPOINTS"
wait
