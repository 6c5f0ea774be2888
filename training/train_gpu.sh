#!/usr/bin/env bash
# The GPU budget: every style of training/recipes/ trained as `lite` and as `johnson` at 256 px for
# many more steps, all at once on one GPU (one process per model; small style networks leave most
# of a big GPU idle), then each exported (and checked against PyTorch) into OUT_DIR as
# <style>_<preset>.pth / .onnx. The recipes' loss, data and weights are kept; johnson trains at
# Adam 1e-3 (it collapsed at lite's 5e-3 on the CPU). Aimed at under 10 minutes on one H200 for
# all ten models (not yet measured: no GPU has been lent to the sessions that wrote it).
#
#   training/train_gpu.sh DATA_ROOT [RUNS_DIR] [OUT_DIR]
#
# First it times MEASURE_STEPS steps of each preset in fp32, bf16 and bf16 + channels-last and prints
# images/s (RUNS_DIR/speed_*), then trains with AMP and CHANNELS_LAST as set below.
# The budget comes from the environment (defaults in brackets):
#   STEPS [8000]  SIZE [256]  BATCH [8]  STYLE_SIZE [384]  CROP_MIN [0.6]  CROP_MAX [1.0]
#   AMP [bf16]  CHANNELS_LAST [1]  DEVICE [cuda]  WORKERS [2]  MEASURE [1]  MEASURE_STEPS [40]
#   PYTHON [python3]
# A dry run on a CPU, in about two minutes:
#   STEPS=2 SIZE=64 BATCH=2 STYLE_SIZE=64 DEVICE=cpu AMP=none CHANNELS_LAST=0 WORKERS=0 MEASURE=0 \
#       training/train_gpu.sh ../shared/data /tmp/gpu_runs /tmp/gpu_out
# It runs from a source checkout without installing (python -m fastnst from the repository root),
# so a machine with torch, torchvision, onnx, onnxruntime, OpenCV, Pillow and tqdm needs nothing more.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
data=$(cd "${1:?usage: training/train_gpu.sh DATA_ROOT [RUNS_DIR] [OUT_DIR]}" && pwd)
runs=$(mkdir -p "${2:-runs/gpu}" && cd "${2:-runs/gpu}" && pwd)
out=$(mkdir -p "${3:-$runs/shipped}" && cd "${3:-$runs/shipped}" && pwd)
STEPS=${STEPS:-8000} SIZE=${SIZE:-256} BATCH=${BATCH:-8} STYLE_SIZE=${STYLE_SIZE:-384}
CROP_MIN=${CROP_MIN:-0.6} CROP_MAX=${CROP_MAX:-1.0} AMP=${AMP:-bf16} CHANNELS_LAST=${CHANNELS_LAST:-1}
DEVICE=${DEVICE:-cuda} WORKERS=${WORKERS:-2} MEASURE=${MEASURE:-1} MEASURE_STEPS=${MEASURE_STEPS:-40}
PYTHON=${PYTHON:-python3}
cd "$root"
fastnst() { "$PYTHON" -m fastnst "$@"; }
cl=(); [ "$CHANNELS_LAST" = 1 ] && cl=(--channels-last)
budget=(--data-root "$data" --device "$DEVICE" --image-size "$SIZE" --style-size "$STYLE_SIZE"
        --crop-min "$CROP_MIN" --crop-max "$CROP_MAX" --batch-size "$BATCH" --workers "$WORKERS" -q)

images_per_s() {  # median images/s of a run's log.csv rows after the first (warm-up)
    "$PYTHON" -c "import csv, statistics, sys; r = list(csv.DictReader(open(sys.argv[1])))[1:]; \
print(f\"{statistics.median(float(x['images_per_s']) for x in r):.1f}\" if r else 'n/a')" "$1/log.csv"
}

lr_of() { case "$1" in johnson) echo 0.001 ;; *) echo 0.005 ;; esac; }
recipes=("$here"/recipes/*_lite.json)

if [ "$MEASURE" = 1 ]; then
    for preset in lite johnson; do
        recipe=${recipes[0]}
        for variant in fp32 bf16 bf16-cl; do
            flags=(--amp none); [ "$variant" != fp32 ] && flags=(--amp bf16)
            [ "$variant" = bf16-cl ] && flags+=(--channels-last)
            dir="$runs/speed_${preset}_$variant"; rm -rf "$dir"
            fastnst train --recipe "$recipe" "${budget[@]}" -o "$dir" --preset "$preset" --lr "$(lr_of "$preset")" \
                --iterations "$MEASURE_STEPS" --log-every $(( MEASURE_STEPS / 4 > 0 ? MEASURE_STEPS / 4 : 1 )) \
                --preview-every 1000 --checkpoint-every 1000 "${flags[@]}" >"$dir.log" 2>&1
            echo "speed $preset $variant: $(images_per_s "$dir") images/s (batch $BATCH at $SIZE px)"
        done
    done
fi

start=$(date +%s)
pids=() names=() names_trained=()
every=$(( STEPS / 4 > 0 ? STEPS / 4 : 1 ))
for recipe in "${recipes[@]}"; do
    style=$(basename "$recipe" _lite.json)
    for preset in lite johnson; do
        name=${style}_$preset run="$runs/${style}_$preset"
        names_trained+=("$name")
        if [ -f "$run/model.pth" ]; then continue; fi
        if compgen -G "$run/checkpoints/step_*.pt" >/dev/null; then
            fastnst train --resume "$run" -q >"$run.log" 2>&1 &
        else
            fastnst train --recipe "$recipe" "${budget[@]}" -o "$run" --preset "$preset" --lr "$(lr_of "$preset")" \
                --iterations "$STEPS" --amp "$AMP" "${cl[@]}" --preview-every "$every" --checkpoint-every "$every" \
                --log-every $(( STEPS / 100 > 0 ? STEPS / 100 : 1 )) >"$run.log" 2>&1 &
        fi
        pids+=($!) names+=("$name")
    done
done
failed=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then echo "train_gpu.sh: ${names[$i]} failed, see $runs/${names[$i]}.log" >&2; failed=1; fi
done
echo "trained ${#pids[@]} models in $(( $(date +%s) - start )) s ($STEPS steps of $BATCH at $SIZE px each)"
[ "$failed" = 0 ] || exit 1

pids=() names=()
for name in "${names_trained[@]}"; do  # exports in parallel: each checks itself against PyTorch
    run="$runs/$name"
    cp "$run/model.pth" "$out/$name.pth"
    case "$name" in *_johnson) half=(--fp16) ;; *) half=() ;; esac
    fastnst export "$run/model.pth" -o "$out/$name.onnx" "${half[@]}" >"$run.export.log" 2>&1 &
    pids+=($!) names+=("$name")
done
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then echo "train_gpu.sh: export of ${names[$i]} failed, see $runs/${names[$i]}.export.log" >&2; failed=1; fi
done
[ "$failed" = 0 ] || exit 1
for name in "${names_trained[@]}"; do
    echo "exported $out/$name.onnx ($(images_per_s "$runs/$name") images/s while training)"
done
echo "done in $(( $(date +%s) - start )) s; copy $out/* into fastnst/pretrained/ after looking at $runs/*/previews"
