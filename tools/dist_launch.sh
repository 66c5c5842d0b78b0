# Sourced by tools/dist_train.sh and dist_test.sh: sets PYTHON (see
# tools/python_env.sh) and defines dist_launch.
#
# dist_launch NUM_PROCESSES SCRIPT [ARGS...] becomes (exec) torchrun
# running NUM_PROCESSES copies of tools/SCRIPT with ARGS; on a machine
# without GPUs they run on CPU (gloo). Env: NNODES (1), NODE_RANK (0),
# PORT (29500), MASTER_ADDR (127.0.0.1).
source "$(dirname "${BASH_SOURCE[0]}")/python_env.sh"

dist_launch() {
    local tools_dir
    tools_dir="$(dirname "${BASH_SOURCE[0]}")"
    PYTHONPATH="$tools_dir/..":$PYTHONPATH \
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$1" \
        --master_port="${PORT:-29500}" \
        "$tools_dir/$2" \
        "${@:3}"
}
