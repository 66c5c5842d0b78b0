#!/usr/bin/env bash
# The main job on CPU in a few minutes: sets the environment up if needed,
# writes a tiny Cityscapes-format dataset, trains a DeepLabV3 R101 teacher
# and R18 student together with DML through tools/dist_train.sh (2
# processes), then prints both networks' mIoU and the exported student.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$(bash "$ROOT/tools/setup_env.sh")"
cd "$ROOT"
CONFIG=configs/demo/dml_deeplabv3_r101_r18_tiny-cityscapes_cpu.py
WORK_DIR="${WORK_DIR:-work_dirs/demo_dml_$(date +%Y%m%d_%H%M%S)}"
"$PY" tools/dataset_converters/make_tiny_datasets.py cityscapes \
    data/tiny_cityscapes >/dev/null
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
mkdir -p "$WORK_DIR"
LOG="$WORK_DIR/demo.log"
echo "training (log: $LOG) ..."
if ! PYTHON="$PY" bash tools/dist_train.sh "$CONFIG" 2 \
        --work-dir "$WORK_DIR" >"$LOG" 2>&1; then
    tail -n 40 "$LOG"
    exit 1
fi
grep -E "Iter\(train\)|mIoU:" "$LOG" | cut -c1-200 || true
"$PY" - "$WORK_DIR" <<'PYEOF'
import glob, json, sys
work_dir = sys.argv[1]
scalars = sorted(glob.glob(f'{work_dir}/*/vis_data/scalars.json'))
metrics = {}
for line in open(scalars[-1]):
    record = json.loads(line)
    metrics.update({k: v for k, v in record.items() if 'mIoU' in k})
student = sorted(glob.glob(f'{work_dir}/*/student.pth'))
print(f"student (DeepLabV3 R18) mIoU: {metrics['mIoU']:.2f}")
print(f"teacher (DeepLabV3 R101) mIoU: {metrics['teacher.mIoU']:.2f}")
print(f'exported student checkpoint: {student[-1]}')
PYEOF
