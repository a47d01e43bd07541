#!/usr/bin/env bash
# Installs what medlake's Spark engine needs, from registries only: pyspark (the full
# Spark distribution, pinned in spark/requirements.txt) into .spark/venv, then generates
# the Spark Connect protocol descriptors from the .proto files inside that distribution.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if [ ! -x .spark/venv/bin/python ]; then
  "$python" -m venv .spark/venv
fi
.spark/venv/bin/python -m pip install --quiet --disable-pip-version-check -r spark/requirements.txt
if [ -f scripts/spark-proto.ts ]; then
  npx tsx scripts/spark-proto.ts
fi
echo "Spark installed: $(.spark/venv/bin/python -c 'import pyspark, os; print(os.path.dirname(pyspark.__file__))')"
