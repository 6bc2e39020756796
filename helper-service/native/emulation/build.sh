#!/usr/bin/env bash
# Compiles a CUDA program (a kernel check of scripts/custom-op-check, or selfcheck.cu) for the CPU
# emulation (simt.h). REATCO_SIMT_SCHEDULE, read when it runs, picks the schedule (simt.cc).
# Needs g++ and Boost.Context (Debian: libboost-context-dev; .ci/run installs it).
# Usage: bash helper-service/native/emulation/build.sh SOURCE.cu PROGRAM
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -e /usr/include/boost/context/fiber.hpp ] && ! echo '#include <boost/context/fiber.hpp>' | g++ -std=c++17 -fsyntax-only -x c++ - 2>/dev/null; then
  echo "the CUDA emulation needs Boost.Context: apt-get install -y libboost-context-dev (CI's .ci/run does)" >&2
  exit 1
fi
# CUDA code reads memory through other types (reinterpret_cast of uint4 to half2, ...), which nvcc
# allows: no strict aliasing here either.
g++ -O2 -std=c++17 -fno-strict-aliasing -DREATCO_CUDA_EMULATION -x c++ -I"$here" "$1" -x none "$here/simt.cc" -lboost_context -o "$2"
