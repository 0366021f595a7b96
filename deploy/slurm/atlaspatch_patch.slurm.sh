#!/usr/bin/env bash
# Patch coordinates (segmentation + HDF5) as a SLURM job array: task i takes shard i of the
# sorted slide list (atlaspatch reads SLURM_ARRAY_TASK_ID and the array size itself).
#
#   mkdir -p logs && sbatch --array=0-49 deploy/slurm/atlaspatch_patch.slurm.sh       # 50 shards
#
# Edit the settings below, or pass them in the environment (sbatch --export=ALL,WSI_ROOT=...).
# SEGMENTER_URL: a segmenter service (e.g. from atlaspatch_services.slurm.sh); without it each
# task runs SAM2 itself, on the GPU it asks for.
#SBATCH --job-name=atlaspatch-patch
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --gres=gpu:1
#SBATCH --time=12:00:00
# (SLURM writes no log where logs/ does not exist: create it first, as above.)
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

WSI_ROOT=${WSI_ROOT:-/data/slides}
OUTPUT_ROOT=${OUTPUT_ROOT:-/data/atlaspatch}
PATCH_SIZE=${PATCH_SIZE:-256}
TARGET_MAG=${TARGET_MAG:-20}
SEG_BATCH=${SEG_BATCH:-4}
ATLASPATCH=${ATLASPATCH:-atlaspatch}          # or /path/to/repo/.venv/bin/atlaspatch
SEGMENTER_URL=${SEGMENTER_URL:-}

remote=()
if [ -n "$SEGMENTER_URL" ]; then remote=(--segmenter-url "$SEGMENTER_URL"); fi

"$ATLASPATCH" segment-and-get-coords "$WSI_ROOT" \
  --output "$OUTPUT_ROOT" \
  --patch-size "$PATCH_SIZE" \
  --target-mag "$TARGET_MAG" \
  --seg-batch-size "$SEG_BATCH" \
  --patch-workers "${SLURM_CPUS_PER_TASK:-4}" \
  --max-open-slides 200 \
  --recursive \
  --skip-existing \
  "${remote[@]}" \
  "$@"
