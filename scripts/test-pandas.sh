#!/usr/bin/env bash
# Installs test/python-requirements.txt into .venv-test (from PyPI) and runs the suites
# that cross-check medlake's output with those packages; missing pandas fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-test/bin/python ]; then python3 -m venv .venv-test; fi
.venv-test/bin/pip install --quiet --disable-pip-version-check -r test/python-requirements.txt
MEDLAKE_PYTHON="$PWD/.venv-test/bin/python" MEDLAKE_REQUIRE_PANDAS=1 TZ=UTC \
  npx vitest run test/synth-trial.test.ts
