#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]
# Uses torchrun; on a machine without GPUs the processes train on CPU
# (gloo). Env: NNODES, NODE_RANK, PORT, MASTER_ADDR, PYTHON (default: the
# environment of tools/setup_env.sh, see tools/python_env.sh).
# The script becomes torchrun (exec): killing its pid stops the training
# processes too (they exit when their launcher dies).
source "$(dirname "$0")/dist_launch.sh"
dist_launch "$2" train.py "$1" --launcher pytorch "${@:3}"
