#!/usr/bin/env bash
# Reproduce the shipped styles: train every recipe in training/recipes/ (resuming a run that was
# interrupted), then ship each final model in fastnst/pretrained/: <style>_<preset>.pth (the model
# file, fp16 weights) and <style>_<preset>.onnx (what the runtime loads; fp16 compute for johnson to
# keep the package small, fp32 for lite, which is small anyway and fastest in fp32 on CPUs).
#
#   training/train_all.sh DATA_ROOT [RUNS_DIR] [extra 'fastnst train' flags, e.g. --device cuda]
#
# DATA_ROOT holds styles/, content/bsds500/ and weights/ (../shared/data on the project machines).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:?usage: training/train_all.sh DATA_ROOT [RUNS_DIR] [fastnst train flags...]}
runs=${2:-runs}
shift $(( $# >= 2 ? 2 : 1 ))
for recipe in "$here"/recipes/*.json; do
  name=$(basename "$recipe" .json)
  run="$runs/$name"
  if [ ! -f "$run/model.pth" ]; then
    if compgen -G "$run/checkpoints/step_*.pt" >/dev/null; then
      fastnst train --resume "$run"
    else
      fastnst train --recipe "$recipe" --data-root "$data" -o "$run" "$@"
    fi
  fi
  out="$here/../fastnst/pretrained/$name"
  cp "$run/model.pth" "$out.pth"
  case "$name" in *_johnson) half=--fp16 ;; *) half= ;; esac
  fastnst export "$run/model.pth" -o "$out.onnx" $half
  echo "shipped $out.pth ($(du -h "$out.pth" | cut -f1)) and $out.onnx ($(du -h "$out.onnx" | cut -f1))"
done
