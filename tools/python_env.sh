# Sourced by tools/dist_launch.sh and slurm_train.sh: sets
# PYTHON to the interpreter that runs mmokd.
#
# PYTHON set by the caller wins. Otherwise the project's environment made
# by tools/setup_env.sh (${MMOKD_VENV:-~/.cache/mmokd/venv}) is used when
# it is complete (its stamp file exists); failing that, python3 if it can
# import torch. If none of these works, the script stops with a message
# saying how to set the environment up.
if [[ -z "${PYTHON:-}" ]]; then
    MMOKD_VENV_DIR="${MMOKD_VENV:-$HOME/.cache/mmokd/venv}"
    if [[ -f "$MMOKD_VENV_DIR/.mmokd-stamp" \
            && -x "$MMOKD_VENV_DIR/bin/python" ]]; then
        PYTHON="$MMOKD_VENV_DIR/bin/python"
    elif python3 -c 'import torch' >/dev/null 2>&1; then
        PYTHON=python3
    else
        echo "$(basename "$0"): no mmokd environment at $MMOKD_VENV_DIR" \
            "and python3 cannot import torch. Run 'bash tools/setup_env.sh'" \
            "(MMOKD_VENV moves the environment), or set PYTHON to an" \
            "interpreter with torch and the OpenMMLab packages." >&2
        exit 1
    fi
fi
