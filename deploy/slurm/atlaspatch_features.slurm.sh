#!/usr/bin/env bash
# Patch features into the HDF5 files (coordinates are made first when missing) as a SLURM job
# array: task i takes shard i of the sorted slide list.
#
#   mkdir -p logs && sbatch --array=0-99 deploy/slurm/atlaspatch_features.slurm.sh
#
# ENCODER_URL / SEGMENTER_URL: shared services (e.g. atlaspatch_services.slurm.sh on a GPU node);
# then tasks need no GPU: sbatch --gres=none ... Without them each task runs the models itself.
#SBATCH --job-name=atlaspatch-features
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --gres=gpu:1
#SBATCH --time=24:00:00
# (SLURM writes no log where logs/ does not exist: create it first, as above.)
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

WSI_ROOT=${WSI_ROOT:-/data/slides}
OUTPUT_ROOT=${OUTPUT_ROOT:-/data/atlaspatch}
PATCH_SIZE=${PATCH_SIZE:-256}
TARGET_MAG=${TARGET_MAG:-20}
FEATURES=${FEATURES:-efficientnet_lite0}       # comma or space separated
FEATURE_DEVICE=${FEATURE_DEVICE:-cuda}
FEATURE_BATCH=${FEATURE_BATCH:-64}
FEATURE_WORKERS=${FEATURE_WORKERS:-${SLURM_CPUS_PER_TASK:-4}}
FEATURE_PRECISION=${FEATURE_PRECISION:-float16}
ATLASPATCH=${ATLASPATCH:-atlaspatch}
ENCODER_URL=${ENCODER_URL:-}
SEGMENTER_URL=${SEGMENTER_URL:-}

remote=()
if [ -n "$ENCODER_URL" ]; then remote+=(--encoder-url "$ENCODER_URL"); fi
if [ -n "$SEGMENTER_URL" ]; then remote+=(--segmenter-url "$SEGMENTER_URL"); fi

"$ATLASPATCH" process "$WSI_ROOT" \
  --output "$OUTPUT_ROOT" \
  --patch-size "$PATCH_SIZE" \
  --target-mag "$TARGET_MAG" \
  --feature-extractors "$FEATURES" \
  --feature-device "$FEATURE_DEVICE" \
  --feature-batch-size "$FEATURE_BATCH" \
  --feature-num-workers "$FEATURE_WORKERS" \
  --feature-precision "$FEATURE_PRECISION" \
  --patch-workers "${SLURM_CPUS_PER_TASK:-4}" \
  --recursive \
  "${remote[@]}" \
  "$@"
