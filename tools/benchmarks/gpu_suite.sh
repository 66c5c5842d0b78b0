#!/usr/bin/env bash
# Every GPU figure of docs/benchmarks.md in one command, as a Markdown table.
#
# Usage: tools/benchmarks/gpu_suite.sh OUT.md [--device cpu] [--quick]
#
# Runs, in fp32 and with --amp (mmengine's AmpOptimWrapper):
#   benchmark_online_kd.py (plain steps, DML, MMRazor, DML + ADM eager and
#     fused, SwitOKD expert step, KDCL; MC-Distil with one student, its
#     plain and its meta step, in fp32 only), ImageNet R34 / R18 at
#     224x224, batch 32, and Cityscapes DeepLabV3 R101-D8 / R18-D8 at
#     512x1024, batch 2;
#   benchmark_online_kd.py --task det (plain steps, DML, MMRazor CWD,
#     DML + ADM, SwitOKD expert step, KDCL for RetinaNet), COCO RetinaNet
#     R101 / R18 and Faster R-CNN R101 / R50 at 800x1333, batch 2, on the
#     shipped detection configs (10 timed rounds);
#   benchmark_gpd.py (plain student, GPD, GPD + static teacher) on the
#     shipped GPD configs, same sizes and batches.
# Needs the project's environment (tools/setup_env.sh) with a CUDA build of
# torch and of mmcv (mmseg's heads use mmcv's ops; the CPU-ops build of
# mmcv suffices only for --device cpu). On one H100-class GPU it is meant
# to take under 8 minutes; the elapsed time is written under the table.
#
# --quick: the same networks 8 times narrower (--tiny), tiny inputs
# (32x32, batch 2), one timed round, memory in-process, neither MC-Distil
# nor detection (their rows say so; benchmark_online_kd.py --task det
# --tiny has its own test, tests/test_tools/test_benchmark_det.py); with
# --device cpu it runs end to end on the CPU as a smoke test of the suite
# (tests/test_tools/test_gpu_suite.py). AMP rows are then written as not
# measured (mmengine's AMP wrapper needs CUDA); quick figures are not
# benchmarks.
set -euo pipefail

OUT=${1:?usage: $0 OUT.md [--device cpu] [--quick]}
shift
DEVICE=cuda
QUICK=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --device) DEVICE=${2:?--device needs cpu or cuda}; shift 2 ;;
        --quick) QUICK=1; shift ;;
        *) echo "$0: unknown option $1" >&2; exit 2 ;;
    esac
done
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../python_env.sh"
export PYTHONPATH="$HERE/../..${PYTHONPATH:+:$PYTHONPATH}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS

if [[ $QUICK == 1 ]]; then
    CLS=(--size 32 32 --batch 2)
    SEG=(--size 32 32 --batch 2)
    ROUNDS=(--iters 1 --warmup 0 --memory-steps 1 --memory-in-process
            --tiny)
    GPD_ROUNDS=("${ROUNDS[@]}")
    # torch.compile's first compilation alone takes longer than the rest.
    KD_VARIANTS=(--variants plain_student plain_teacher mmokd_dml
                 mmrazor_std mmokd_dml_adm mmokd_switokd_expert mmokd_kdcl)
    MCDISTIL=()
    NOTES=(--note "mmokd_dml_adm_fused=skipped by --quick (compilation)"
           --note "mmokd_mcdistil=skipped by --quick"
           --note "mmokd_mcdistil_meta=skipped by --quick")
    DET_PAIRS=()
    for pair in retinanet faster_rcnn; do
        NOTES+=(--skipped "online_kd:det $pair=skipped by --quick")
    done
else
    CLS=(--size 224 224 --batch 32)
    SEG=(--size 512 1024 --batch 2)
    ROUNDS=(--iters 20 --warmup 2)
    GPD_ROUNDS=(--iters 10 --warmup 2)
    KD_VARIANTS=(--variants plain_student plain_teacher mmokd_dml
                 mmrazor_std mmokd_dml_adm mmokd_dml_adm_fused
                 mmokd_switokd_expert mmokd_kdcl)
    # MC-Distil's hypergradient is not tested under --amp.
    MCDISTIL=(mmokd_mcdistil mmokd_mcdistil_meta)
    NOTES=(--note "mmokd_mcdistil=fp32 only in this suite"
           --note "mmokd_mcdistil_meta=fp32 only in this suite")
    DET=(--size 800 1333 --batch 2)
    DET_ROUNDS=(--iters 10 --warmup 2)
    DET_PAIRS=(retinanet faster_rcnn)
fi
PRECISIONS=(fp32 amp)
MISSING=()
if [[ $DEVICE != cuda ]]; then
    PRECISIONS=(fp32)
    MISSING=(--missing "amp=mmengine's AmpOptimWrapper needs CUDA")
fi

# One benchmark run: in the foreground, or with --quick in the background
# (the runs are independent; timing figures would disturb each other).
PIDS=()
LOGS=()
run() {
    local log="$WORK/run${#LOGS[@]}.log"
    echo "== $*" >"$log"
    if [[ $QUICK == 1 ]]; then
        "$PYTHON" "$@" >>"$log" 2>&1 &
        PIDS+=($!)
        LOGS+=("$log")
    else
        cat "$log" >&2
        "$PYTHON" "$@" >&2
    fi
}

RECORDS=()
for precision in "${PRECISIONS[@]}"; do
    AMP=()
    [[ $precision == amp ]] && AMP=(--amp)
    VARIANTS=("${KD_VARIANTS[@]}")
    [[ $precision == fp32 ]] && VARIANTS+=("${MCDISTIL[@]}")
    for task in cls seg; do
        SIZE=("${CLS[@]}")
        [[ $task == seg ]] && SIZE=("${SEG[@]}")
        json="$WORK/online_kd_${task}_${precision}.json"
        run "$HERE/benchmark_online_kd.py" --task "$task" "${SIZE[@]}" \
            "${ROUNDS[@]}" "${VARIANTS[@]}" --device "$DEVICE" \
            "${AMP[@]}" --json "$json"
        RECORDS+=("$json")
        json="$WORK/gpd_${task}_${precision}.json"
        run "$HERE/benchmark_gpd.py" --task "$task" "${SIZE[@]}" \
            "${GPD_ROUNDS[@]}" --device "$DEVICE" "${AMP[@]}" \
            --variants plain_student gpd gpd_teacher --json "$json"
        RECORDS+=("$json")
    done
    for pair in "${DET_PAIRS[@]}"; do
        json="$WORK/online_kd_det_${pair}_${precision}.json"
        run "$HERE/benchmark_online_kd.py" --task det --pair "$pair" \
            "${DET[@]}" "${DET_ROUNDS[@]}" --device "$DEVICE" "${AMP[@]}" \
            --json "$json"
        RECORDS+=("$json")
    done
done
for i in "${!PIDS[@]}"; do
    if ! wait "${PIDS[$i]}"; then
        cat "${LOGS[$i]}" >&2
        echo "$0: a benchmark run failed (its output is above)" >&2
        exit 1
    fi
    cat "${LOGS[$i]}" >&2
done

if [[ $DEVICE == cuda ]]; then
    NAME=$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name())')
else
    # nproc alone reports OMP_NUM_THREADS, not the cores.
    NAME="CPU ($(env -u OMP_NUM_THREADS nproc) cores, \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset})"
fi
TORCH=$("$PYTHON" -c 'import torch; print(torch.__version__)')
MODE=full
[[ $QUICK == 1 ]] && MODE="quick (smoke run; not benchmark figures)"
"$PYTHON" "$HERE/suite_table.py" "$OUT" "${RECORDS[@]}" "${MISSING[@]}" \
    "${NOTES[@]}" \
    --header "$NAME, torch $TORCH, $(date -u +%Y-%m-%d), mode $MODE, \
$((SECONDS - START)) s. Ratios are each variant over the sum of the \
variants in 'ratio to', measured in the same run."
echo "wrote $OUT ($((SECONDS - START)) s)" >&2
