#!/usr/bin/env bash
# Creates (or reuses) the virtual environment mmokd is tested in.
#
# Idempotent: a stamp file records a hash of the requirement files and of
# this script; when it matches, the script only activates nothing and exits
# in about a second. mmcv 2.1.0 is compiled from source with its ops against
# the torch installed in the venv (about 13 minutes on 2 cores); the built
# wheel is cached under a directory named after that torch version, so a
# wheel built for another torch is never reused.
#
# Usage: bash tools/setup_env.sh        # prints the venv's python path
# Env:   MMOKD_VENV   venv location (default ~/.cache/mmokd/venv)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${MMOKD_VENV:-$HOME/.cache/mmokd/venv}"
PY_BASE="${MMOKD_PYTHON:-python3}"
STAMP_SRC="$(cat "$ROOT"/requirements/*.txt "$ROOT/tools/setup_env.sh" \
    | sha256sum | cut -c1-16)"
log() { echo "[setup_env] $*" >&2; }

if [[ -f "$VENV/.mmokd-stamp" && "$(cat "$VENV/.mmokd-stamp")" == "$STAMP_SRC" ]]; then
    # Only the editable mmokd install may be missing (fresh clone elsewhere).
    if ! "$VENV/bin/python" -c "import mmokd, os, sys; \
sys.exit(0 if os.path.realpath(os.path.dirname(mmokd.__file__)) == \
os.path.realpath('$ROOT/mmokd') else 1)" 2>/dev/null; then
        log "re-linking mmokd into $VENV"
        "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation \
            -e "$ROOT" >&2
    fi
    echo "$VENV/bin/python"
    exit 0
fi

log "creating $VENV"
rm -rf "$VENV"
"$PY_BASE" -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --progress-bar off)
log "installing torch / torchvision"
"${PIP[@]}" -q -U "pip<25" -r "$ROOT/requirements/torch.txt" >&2
# torch pulls the newest setuptools. mmcv 2.1.0's setup.py needs the
# pkg_resources of setuptools < 70 to build; at run time mmengine needs
# pkg_resources too (gone in setuptools >= 82) and torch wants >= 77.0.3,
# so the build runs under 69.x and the final install settles on 77..81.
"${PIP[@]}" -q "setuptools<70" wheel ninja >&2
TORCH_VER="$("$PY" -c 'import torch; print(torch.__version__)')"
WHEELS="$HOME/.cache/mmokd/wheels/torch-$TORCH_VER"
mkdir -p "$WHEELS"
if ! ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    log "building mmcv 2.1.0 with ops against torch $TORCH_VER (~13 min)"
    # Build in a private directory so a half-written wheel is never cached.
    # torch >= 2.10 headers need C++20, while mmcv 2.1.0's setup.py asks for
    # C++17: build from the unpacked sdist with only that flag raised.
    TMPW="$(mktemp -d)"
    "$PY" -m pip download -q --no-deps --no-build-isolation --no-binary mmcv --no-cache-dir \
        -d "$TMPW" "mmcv==2.1.0" >&2
    tar -xzf "$TMPW"/mmcv-2.1.0.tar.gz -C "$TMPW"
    if "$PY" -c "import torch, sys; \
sys.exit(0 if tuple(map(int, torch.__version__.split('.')[:2])) >= (2, 10) \
else 1)"; then
        sed -i "s/'-std=c++17'/'-std=c++20'/" "$TMPW"/mmcv-2.1.0/setup.py
    fi
    MMCV_WITH_OPS=1 MAX_JOBS="$(nproc)" "$PY" -m pip wheel --no-deps \
        --no-build-isolation --no-cache-dir -w "$TMPW" "$TMPW"/mmcv-2.1.0 >&2
    mv "$TMPW"/mmcv-2.1.0-*.whl "$WHEELS"/
    rm -rf "$TMPW"
fi
"${PIP[@]}" -q "$WHEELS"/mmcv-2.1.0-*.whl >&2
log "installing OpenMMLab packages and mmokd"
"${PIP[@]}" -q -r "$ROOT/requirements/mminstall.txt" \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    -r "$ROOT/requirements/optional.txt" -r "$ROOT/requirements/torch.txt" \
    "setuptools>=77.0.3,<82" >&2
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$ROOT" >&2
"$PY" -c "import mmcv.ops, mmseg, mmpretrain, mmrazor, mmengine, \
mmdet.models" >&2
echo "$STAMP_SRC" > "$VENV/.mmokd-stamp"
log "ready: $PY"
echo "$PY"
