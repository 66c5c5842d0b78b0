#!/usr/bin/env bash
# The main job on CPU in a few minutes: sets the environment up if needed,
# writes a tiny dataset in a real on-disk format, trains a teacher and a
# student together with DML through tools/dist_train.sh (2 processes),
# then prints both networks' metric and the exported student.
#
#   bash tools/demo.sh        # segmentation: DeepLabV3 R101 / R18, tiny
#                             # Cityscapes, mIoU
#   bash tools/demo.sh det    # detection: RetinaNet R101 / R18, tiny
#                             # COCO, box AP (coco/bbox_mAP)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TASK="${1:-seg}"
case "$TASK" in
    seg) CONFIG=configs/demo/dml_deeplabv3_r101_r18_tiny-cityscapes_cpu.py
         METRIC=mIoU; STUDENT="DeepLabV3 R18"; TEACHER="DeepLabV3 R101" ;;
    det) CONFIG=configs/demo/dml_retinanet_r101_r18_tiny-coco_cpu.py
         METRIC=coco/bbox_mAP; STUDENT="RetinaNet R18"
         TEACHER="RetinaNet R101" ;;
    *) echo "usage: bash tools/demo.sh [seg|det]" >&2; exit 2 ;;
esac
PY="$(bash "$ROOT/tools/setup_env.sh")"
cd "$ROOT"
WORK_DIR="${WORK_DIR:-work_dirs/demo_dml_${TASK}_$(date +%Y%m%d_%H%M%S)}"
if [ "$TASK" = seg ]; then
    "$PY" tools/dataset_converters/make_tiny_datasets.py cityscapes \
        data/tiny_cityscapes >/dev/null
else
    # 64 training images: an epoch outlasts several iterations (mmengine
    # pauses 2 s whenever an iteration-based run starts a new epoch).
    "$PY" tools/dataset_converters/make_tiny_datasets.py coco \
        data/tiny_coco --num-coco-train 64 >/dev/null
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
mkdir -p "$WORK_DIR"
LOG="$WORK_DIR/demo.log"
echo "training (log: $LOG) ..."
if ! PYTHON="$PY" bash tools/dist_train.sh "$CONFIG" 2 \
        --work-dir "$WORK_DIR" >"$LOG" 2>&1; then
    tail -n 40 "$LOG"
    exit 1
fi
grep -E "Iter\(train\)|$METRIC:" "$LOG" | cut -c1-200 || true
"$PY" - "$WORK_DIR" "$METRIC" "$STUDENT" "$TEACHER" <<'PYEOF'
import glob, json, sys
work_dir, metric, student_net, teacher_net = sys.argv[1:]
scalars = sorted(glob.glob(f'{work_dir}/*/vis_data/scalars.json'))
metrics = {}
for line in open(scalars[-1]):
    record = json.loads(line)
    metrics.update({k: v for k, v in record.items() if metric in k})
student = sorted(glob.glob(f'{work_dir}/*/student.pth'))
print(f"student ({student_net}) {metric}: {metrics[metric]:.4g}")
print(f"teacher ({teacher_net}) {metric}: {metrics['teacher.' + metric]:.4g}")
print(f'exported student checkpoint: {student[-1]}')
PYEOF
