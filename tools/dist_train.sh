#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]
# Uses torchrun; on a machine without GPUs the processes train on CPU
# (gloo). Env: NNODES, NODE_RANK, PORT, MASTER_ADDR, PYTHON (default: the
# environment of tools/setup_env.sh, see tools/python_env.sh).
# The script becomes torchrun (exec): killing its pid stops the training
# processes too (they exit when their launcher dies).
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
source "$(dirname "$0")/python_env.sh"

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
