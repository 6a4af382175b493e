#!/usr/bin/env bash
# Run a command with every library's CPU kernels capped at an instruction set, as on a machine
# that has nothing better: PyTorch (ATen), oneDNN, MKL, OpenBLAS and numpy (the settings are
# scripts/execute_chapters.py's ISA_PROFILES). For instance, on an AVX-512 machine,
#   scripts/with-isa.sh avx2 make test
# builds and tests as an AVX2 laptop would: every chapter executes at AVX2, and the lowered-ISA
# pass caps one level further ("mixed": every library below AVX2 except oneDNN's convolutions).
set -euo pipefail
isa=${1:?usage: scripts/with-isa.sh avx2|avx|sse41 COMMAND...}; shift
cd "$(dirname "$0")/.."
py=python3; [ -x .venv/bin/python ] && py=.venv/bin/python
settings=$("$py" scripts/execute_chapters.py --print-env "$isa")
cd - >/dev/null
while IFS= read -r kv; do export "$kv"; done <<<"$settings"
echo "with-isa: kernels capped at ${isa^^} ($(echo $settings | tr '\n' ' '))" >&2
exec "$@"
