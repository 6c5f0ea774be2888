#!/usr/bin/env bash
# Reproduce the shipped styles: train every recipe in training/recipes/ (resuming a run that was
# interrupted), then copy each final model into fastnst/pretrained/ as <style>_<preset>.pth.
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
  cp "$run/model.pth" "$here/../fastnst/pretrained/$name.pth"
  echo "shipped fastnst/pretrained/$name.pth ($(du -h "$run/model.pth" | cut -f1))"
done
