#!/usr/bin/env bash
# The GPU check, one prepared script for a CUDA machine: Table 1 (dense and conv) on --device cuda
# in float32 and bfloat16, TF32 off and on, and PyTorch's own layers (--impl torch) in float32, as
# JSON, each compared cell by cell with the CPU's verdicts; then the large-shape benchmark
# (benchmarks/bench_size.py: float32 for a data and a weight transform, bfloat16, TF32). Prints a summary.
# Exits non-zero only on a crash (a command that died, or invcheck's internal error, exit 3):
# verdicts that differ between devices are reported, not fatal.
#
#   bash benchmarks/gpu.sh                 # from the repository root or anywhere
#   OUT=/tmp/gpu TRIALS=8 bash benchmarks/gpu.sh
#   DEVICE=cpu SIZE=256 bash benchmarks/gpu.sh   # a dry run of the script itself, without a GPU
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
TRIALS=${TRIALS:-8}
SIZE=${SIZE:-2048}
REPEAT=${REPEAT:-2}
OUT=${OUT:-${TMPDIR:-/tmp}/invcheck-gpu}
mkdir -p "$OUT"
crashed=0

"$PY" -c "import invcheck" 2>/dev/null || "$PY" -m pip install -q -e . || exit 1
"$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available(),
      '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"

table() {  # table NAME ARGS...: one JSON table; a crash is remembered, exit 1 or 2 is reported
  local name=$1; shift
  local start=$SECONDS
  rm -f "$OUT/$name.json"  # a table an earlier run left must not stand in for one this run could not make
  "$PY" -m invcheck table --format json --trials "$TRIALS" -o "$OUT/$name.json" "$@"
  local rc=$?
  echo "  $name: exit $rc, $((SECONDS - start)) s"
  if [ "$rc" -ge 3 ]; then crashed=1; fi
  return 0
}

echo "== tables (trials $TRIALS) -> $OUT"
for dtype in float32 bfloat16; do
  table "cpu-$dtype" --dtype "$dtype" --device cpu
  # "on-": in a dry run (DEVICE=cpu) the device's tables must not replace the baseline's
  table "on-$DEVICE-$dtype" --dtype "$dtype" --device "$DEVICE"
  table "on-$DEVICE-$dtype-tf32" --dtype "$dtype" --device "$DEVICE" --tf32
done
# PyTorch's own kernels (cuDNN, ATen's fused norms) rather than the reference math
table "cpu-float32-torch" --dtype float32 --device cpu --impl torch
table "on-$DEVICE-float32-torch" --dtype float32 --device "$DEVICE" --impl torch

echo "== verdicts on $DEVICE vs cpu"
for pair in float32:"on-$DEVICE-float32" float32:"on-$DEVICE-float32-tf32" bfloat16:"on-$DEVICE-bfloat16" \
            bfloat16:"on-$DEVICE-bfloat16-tf32" float32-torch:"on-$DEVICE-float32-torch"; do
  base="cpu-${pair%%:*}" run="${pair#*:}"
  if [ -f "$OUT/$base.json" ] && [ -f "$OUT/$run.json" ]; then
    "$PY" benchmarks/compare_verdicts.py "$OUT/$base.json" "$OUT/$run.json" || crashed=1
  else
    echo "  $run: no table to compare (see its exit above)"
  fi
done

echo "== large shapes (benchmarks/bench_size.py: ${SIZE}^3, 2 trials, each side in its own process)"
configs=("--dtype float32" "--dtype float32 --transform weight_matrix_rescale" "--dtype bfloat16")
if [ "$DEVICE" != cpu ]; then configs+=("--dtype float32 --tf32"); fi
for args in "${configs[@]}"; do
  # shellcheck disable=SC2086  # args is a list of options
  "$PY" benchmarks/bench_size.py --device "$DEVICE" --size "$SIZE" --repeat "$REPEAT" $args || crashed=1
done

echo "== summary: tables and comparisons in $OUT; $([ $crashed = 0 ] && echo 'no crash' || echo 'a command CRASHED (see above)')"
exit $crashed
