#!/usr/bin/env bash
# Sets up the environment if needed (tools/setup_env.sh) and runs the
# whole test suite on CPU, in two pytest-xdist workers. Extra arguments
# go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$(bash "$ROOT/tools/setup_env.sh")"
cd "$ROOT"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
"$PY" -c "import mmokd, mmrazor.models, mmrazor.engine, mmseg.models, \
mmpretrain.models, mmdet.models, mmcv.ops; print('imports ok: mmokd', mmokd.__version__)"
# Two workers (MMOKD_TEST_WORKERS): unit tests run one thread each, so a
# single worker leaves a core idle. Work stealing (MMOKD_TEST_DIST): a
# worker that runs out of tests takes half of the other's queue, so the
# minute-long end-to-end runs do not queue up behind one worker at the end
# while the other idles. The slowest tests are listed at the end.
exec "$PY" -m pytest tests -v -p no:cacheprovider \
    -n "${MMOKD_TEST_WORKERS:-2}" --dist "${MMOKD_TEST_DIST:-worksteal}" \
    --durations=25 "$@"
