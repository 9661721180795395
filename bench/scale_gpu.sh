#!/usr/bin/env bash
# The scale benchmark's transcription part on a GPU machine: `fieldvault worker` processes with
# faster-whisper float16 on CUDA (1 and 2 processes, 1 and 2 threads each) against the engine
# alone on the same GPU, in the same run. Installs nothing: it uses the virtual environment
# (PYTHON, default .venv/bin/python) and the Whisper weights its packages hold.
#
#   OUT=/path/for/results bench/scale_gpu.sh [more bench/scale.py options]
#
# PostgreSQL (127.0.0.1:5432), Redis (:6379) and SeaweedFS (`weed`) are used where present,
# else SQLite, the SQLite queue and a local folder; the table says which. DEVICE=cpu
# COMPUTE_TYPE=int8 runs the same path on CPU. Results: $OUT/scale.txt, scale.json,
# nvidia-smi.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the results}"
PYTHON=${PYTHON:-.venv/bin/python}
DEVICE=${DEVICE:-cuda}
COMPUTE_TYPE=${COMPUTE_TYPE:-float16}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
db=sqlite queue=sqlite blobs=local
if answers 5432; then db=postgres; fi
if answers 6379; then queue=redis; fi
if "$PYTHON" -c 'import sys; sys.path.insert(0, "."); from tests.s3server import weed_binary; sys.exit(weed_binary() is None)' 2>/dev/null; then
  blobs=s3
fi

mkdir -p "$OUT"
if [ "$DEVICE" = cuda ]; then
  nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi not found" >"$OUT/nvidia-smi.txt"
fi
HF_HUB_OFFLINE=1 "$PYTHON" bench/scale.py \
  --device "$DEVICE" --compute-type "$COMPUTE_TYPE" \
  --clips "${CLIPS:-8}" --clip-minutes "${CLIP_MINUTES:-2}" \
  --configs "${CONFIGS:-1x1,1x2,2x1,2x2}" \
  --db "$db" --queue "$queue" --blobs "$blobs" --skip-web \
  --json "$OUT/scale.json" "$@" 2>&1 | tee "$OUT/scale.txt"
