#!/usr/bin/env bash
# The peer tools for benchmarks/peers.py, each in its own virtual environment
# outside the repository, so that neither drags its dependencies into kcnn's
# venv (fastai wants torch; AutoKeras pins its own keras/tensorflow):
#
#     bash benchmarks/peers_setup.sh                # both, into $KCNN_PEERS (default /work/peers)
#     bash benchmarks/peers_setup.sh fastai         # just one
#     KCNN_PEERS=/somewhere bash benchmarks/peers_setup.sh
#
# Re-running is safe: a venv whose check already passes is left as it is
# (remove its folder to rebuild it). Needs Python 3.11 ($PYTHON, default python3.11).
#
# torch: fastai 2.8 asks for torch>=1.10,<3 and torchvision>=0.11. On the
# project's machines pip takes torch 2.14.1 and torchvision 0.29.1 from a local
# wheel folder (a CUDA build, about 6 GB in the venv with its nvidia-* wheels; it runs on the CPU);
# PyPI's torchvision does not import beside the CPU-only torch 2.13.0 wheel that
# lies there too ("operator torchvision::nms does not exist"). Pinning both here
# also keeps pip from resolving a bare "torch" to a newer multi-GB download.
# Override with FASTAI_TORCH="torch==X torchvision==Y" on another machine.
set -euo pipefail

PEERS="${KCNN_PEERS:-/work/peers}"
PYTHON="${PYTHON:-python3.11}"
FASTAI_TORCH="${FASTAI_TORCH:-torch==2.14.1 torchvision==0.29.1}"
FASTAI_VERSION="${FASTAI_VERSION:-2.8.12}"
AUTOKERAS_VERSION="${AUTOKERAS_VERSION:-3.0.0}"
AUTOKERAS_BACKEND="${AUTOKERAS_BACKEND:-tensorflow-cpu}"
if [ $# -eq 0 ]; then set -- fastai autokeras; fi
TOOLS=("$@")

mkdir -p "$PEERS"

pip_install() {  # pip_install VENV REQUIREMENT...: quiet, less this machine's "Location ... is ignored" noise
    local target="$1"; shift
    "$PEERS/$target/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file" >&2)
}

venv() {  # venv NAME: a fresh venv at $PEERS/NAME with a current pip
    "$PYTHON" -m venv "$PEERS/$1"
    pip_install "$1" --upgrade pip
}

fastai_check() {
    "$PEERS/fastai/bin/python" - <<'EOF'
from fastai.vision.all import *  # noqa: F401,F403  (what fastai_run.py imports)
import fastai, torch, torchvision
print(f"fastai {fastai.__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}")
EOF
}

autokeras_check() {
    "$PEERS/autokeras/bin/python" - <<'EOF'
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import autokeras, keras, keras_tuner, tensorflow
import tensorboard.plugins.hparams.api  # noqa: F401  (keras-tuner imports it for each trial)
print(f"autokeras {autokeras.__version__}, keras-tuner {keras_tuner.__version__}, keras {keras.__version__}, "
      f"tensorflow {tensorflow.__version__}")
EOF
}

for tool in "${TOOLS[@]}"; do
    if [ -x "$PEERS/$tool/bin/python" ] && "${tool}_check" 2>/dev/null; then
        echo "$PEERS/$tool: already set up"
        continue
    fi
    echo "setting up $PEERS/$tool ..."
    rm -rf "${PEERS:?}/$tool"
    venv "$tool"
    case "$tool" in
        fastai)
            # shellcheck disable=SC2086  # FASTAI_TORCH is two requirements
            pip_install fastai $FASTAI_TORCH "fastai==$FASTAI_VERSION" ;;
        autokeras)
            # autokeras 3.0.0 brings keras-tuner and keras 3 but no backend: Keras's
            # default backend, TensorFlow, is added here (the CPU-only wheel: kcnn trains
            # with TensorFlow on the CPU too), and TensorBoard, which keras-tuner imports
            # for every trial on that backend and TensorFlow no longer brings. Its clash with Keras >= 3.13
            # (Dense(units=np.int64)) is patched at run time by peers/autokeras_run.py.
            pip_install autokeras "autokeras==$AUTOKERAS_VERSION" "$AUTOKERAS_BACKEND" tensorboard ;;
        *)
            echo "unknown tool $tool (fastai, autokeras)" >&2; exit 2 ;;
    esac
    "${tool}_check"
done
