#!/usr/bin/env bash
# Reproduce the shipped any-painting style (-s painting.jpg): train the decoder of each level in LEVELS
# (default: relu3_1 relu2_1 relu1_1, the three shipped: multi-level WCT, coarse to fine) from
# training/recipes/decoders/, resuming a run that was interrupted, then export them with their encoder
# (fastnst export-arbitrary, checked against PyTorch) into fastnst/pretrained/arbitrary/: wct.onnx (the levels
# trained) and wct_fast.onnx (relu3_1 alone).
#
#   [LEVELS="relu3_1"] training/train_decoders.sh DATA_ROOT [RUNS_DIR] [train-decoder flags]
#
# DATA_ROOT holds content/bsds500/ and weights/ (../shared/data on the project machines).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:?usage: training/train_decoders.sh DATA_ROOT [RUNS_DIR] [fastnst train-decoder flags...]}
runs=${2:-runs}
shift $(( $# >= 2 ? 2 : 1 ))
decoders=()
for level in ${LEVELS:-relu3_1 relu2_1 relu1_1}; do
  recipe="$here/recipes/decoders/decoder_$level.json"
  run="$runs/decoder_$level"
  if [ ! -f "$run/decoder.pth" ]; then
    if compgen -G "$run/checkpoints/step_*.pt" >/dev/null; then
      fastnst train-decoder --resume "$run"  # its own settings: the flags are for new runs
    else
      fastnst train-decoder --recipe "$recipe" --data-root "$data" -o "$run" "$@"
    fi
  fi
  decoders+=("$run/decoder.pth")
done
out="$here/../fastnst/pretrained/arbitrary"
mkdir -p "$out"
for d in "${decoders[@]}"; do cp "$d" "$out/$(basename "$(dirname "$d")").pth"; done
loss_net="vgg19-normalised:$data/weights/vgg_normalised_conv3_1.pth"
fastnst export-arbitrary "${decoders[@]}" -o "$out/wct.onnx" --loss-net "$loss_net"
# the wct_fast preset (live frames on a CPU): relu3_1 alone
if [ -f "$runs/decoder_relu3_1/decoder.pth" ]; then
  fastnst export-arbitrary "$runs/decoder_relu3_1/decoder.pth" -o "$out/wct_fast.onnx" --loss-net "$loss_net"
fi
