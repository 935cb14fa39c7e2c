#!/usr/bin/env bash
# System packages the test suite needs beyond the .NET SDK: Debian's chromium, which the HTML report test
# (tests/Backprop.Cli.Tests/HtmlReportTests.cs) drives headless. Installs it only when /usr/bin/chromium is absent;
# non-interactive; sudo only when not root. Without it that test reports a skip with the reason.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "ci-deps: chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-deps: no apt-get here; install chromium yourself (the HTML report test will be skipped)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends chromium
/usr/bin/chromium --version
