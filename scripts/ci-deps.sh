#!/usr/bin/env bash
# System packages the test suite needs beyond the .NET SDK, each installed only when absent; non-interactive; sudo only
# when not root. Without one, the tests that need it report a skip with the reason.
# - Debian's chromium, which the HTML report test (tests/Backprop.Cli.Tests/HtmlReportTests.cs) drives headless;
# - Open MPI (openmpi-bin: mpirun and libmpi.so.40; libopenmpi-dev: the headers and the libmpi.so link), which the
#   distributed training test (tests/Backprop.Cli.Tests/Distributed/) launches as `mpirun -np 2`.
set -euo pipefail
missing=()
if [ -x /usr/bin/chromium ]; then
  echo "ci-deps: chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
else
  missing+=(chromium)
fi
if command -v mpirun >/dev/null 2>&1; then
  echo "ci-deps: mpirun present ($(mpirun --version 2>/dev/null | head -n 1 || echo 'version unknown'))"
else
  missing+=(openmpi-bin libopenmpi-dev)
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-deps: no apt-get here; install ${missing[*]} yourself (the tests that need them will be skipped)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
if [ -x /usr/bin/chromium ]; then /usr/bin/chromium --version; fi
if command -v mpirun >/dev/null 2>&1; then mpirun --version | head -n 1; fi
