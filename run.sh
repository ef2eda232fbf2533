#!/usr/bin/env bash
# kaggle_cnn quick start (Python 3.11+; creates ./.venv on first use):
#   ./run.sh [kcnn train options]   train -> vote -> metrics on the built-in demo,
#                                   or on your data: ./run.sh --data PATH --repeat 30 --keep-above 0.91
#   ./run.sh test [pytest options]  install the test extras and run the whole suite
# The workspace is the current folder (models/, submissions/, reports/), or $KCNN_WORKSPACE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${KCNN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
WORKSPACE="${KCNN_WORKSPACE:-.}"

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "run.sh: kaggle_cnn needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=python3.11." >&2
      exit 2
    fi
    echo "run.sh: creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
}

# Install the project (editable) with the given extras; skipped while neither
# setup.cfg nor pyproject.toml changed since the last install.
install() {
  local extras="$1" stamp="$VENV/.kcnn-installed${1:+-$1}"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$ROOT/setup.cfg" ] && [ "$stamp" -nt "$ROOT/pyproject.toml" ]; then
    return
  fi
  echo "run.sh: installing kaggle_cnn${extras:+[$extras]} and its dependencies (TensorFlow is large: a few minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT${extras:+[$extras]}"
  touch "$stamp"
}

ensure_venv
if [ "${1:-}" = "test" ]; then
  shift
  install test
  cd "$ROOT"
  exec "$VENV/bin/python" -m pytest "$@"
fi

install ""
kcnn() { "$VENV/bin/kcnn" --workspace "$WORKSPACE" "$@"; }
on_demo=true
for arg in "$@"; do
  if [ "$arg" = "--data" ] || [[ "$arg" == --data=* ]]; then on_demo=false; fi
done

if $on_demo && [ $# -eq 0 ]; then
  # The main job on the demo: a few short runs of the default recipe, enough to see the whole workflow.
  set -- --repeat 3 --keep-above 0.95 --epochs 3
fi
kcnn train "$@"
# The vote names the file it wrote on its "submission: PATH" line (majority_vote.csv,
# or soft_vote.csv when the runs write probabilities).
vote_output="$(kcnn vote)"
echo "$vote_output"
submission="$(sed -n 's/^submission: //p' <<< "$vote_output")"
kcnn metrics
kcnn report > /dev/null
if $on_demo; then
  kcnn score "$submission"
fi
echo
echo "submission: $submission"
echo "report:     $WORKSPACE/reports/report.html (tables: $WORKSPACE/reports/metrics.csv, $WORKSPACE/reports/confusion/)"
