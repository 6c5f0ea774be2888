#!/usr/bin/env bash
# Reproduce the shipped decoders of arbitrary style transfer ("any painting"): train each recipe in
# training/recipes/decoders/ (relu3_1 first: the one that matters most and takes longest), resuming a
# run that was interrupted. Each run leaves RUNS_DIR/decoder_<level>/decoder.pth.
#
#   training/train_decoders.sh DATA_ROOT [RUNS_DIR] [extra 'fastnst train-decoder' flags]
#
# DATA_ROOT holds content/bsds500/ and weights/ (../shared/data on the project machines).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:?usage: training/train_decoders.sh DATA_ROOT [RUNS_DIR] [fastnst train-decoder flags...]}
runs=${2:-runs}
shift $(( $# >= 2 ? 2 : 1 ))
for level in relu3_1 relu2_1 relu1_1; do
  recipe="$here/recipes/decoders/decoder_$level.json"
  run="$runs/decoder_$level"
  if [ -f "$run/decoder.pth" ]; then
    continue
  elif compgen -G "$run/checkpoints/step_*.pt" >/dev/null; then
    fastnst train-decoder --resume "$run" "$@"
  else
    fastnst train-decoder --recipe "$recipe" --data-root "$data" -o "$run" "$@"
  fi
  echo "trained $run/decoder.pth"
done
