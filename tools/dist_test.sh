#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py options]
# As tools/dist_train.sh, for tools/test.py. Env: NNODES, NODE_RANK, PORT,
# MASTER_ADDR, PYTHON (default: see tools/python_env.sh).
source "$(dirname "$0")/dist_launch.sh"
dist_launch "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
