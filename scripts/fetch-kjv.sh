#!/usr/bin/env bash
# Fetches the King James Bible (public domain) from Debian's package bible-kjv-text, decodes it to one plain text
# file, kjv.txt (UTF-8, in fact ASCII: a title line, then one verse a line, "Ge1:1 In the beginning ..."), in the
# cache folder the backprop CLI reads, and prints the file's path on stdout. Idempotent: does nothing when the
# file is already there and checks out. The CLI does the same (src/Backprop.Cli/KjvDownload.cs).
#
# The package holds no plain text: usr/lib/bible.data is the Bible Retrieval System's "EC02" file, a header and a
# table of 64 KiB windows, each compressed on its own with Unix compress (LZW, 16 bits); gzip -d decodes each
# window once the compress header (1F 9D 90) is put in front of it.
#
#   scripts/fetch-kjv.sh [DIR]    # default: ${XDG_CACHE_HOME:-~/.cache}/backprop/kjv
set -euo pipefail

package="bible-kjv-text"
name="kjv.txt"
size=4404475
first_line="Holy Bible, Authorized (King James) Version.  Textfile 930105."
sha256="e53aaf0af1e58f259e35d0d9f7ca1bbe154fd77bb95471279b37b34d3c397a98"

if [[ $# -ge 1 ]]; then
  dir="$1"
elif [[ -n "${XDG_CACHE_HOME:-}" && "${XDG_CACHE_HOME}" == /* ]]; then
  dir="$XDG_CACHE_HOME/backprop/kjv"
else
  dir="$HOME/.cache/backprop/kjv"
fi
target="$dir/$name"

# Prints why FILE is not the expected text, or nothing.
problem() {
  local file="$1" n
  [[ -f "$file" ]] || { echo "missing"; return; }
  n="$(wc -c < "$file" | tr -d ' ')"
  [[ "$n" == "$size" ]] || { echo "$n bytes, expected $size (partial or corrupt)"; return; }
  [[ "$(head -n 1 "$file")" == "$first_line" ]] || { echo "its first line is not \"$first_line\""; return; }
  [[ "$(sha256sum "$file" | cut -d ' ' -f 1)" == "$sha256" ]] || { echo "its SHA-256 is not $sha256 (corrupt)"; return; }
}

if [[ -z "$(problem "$target")" ]]; then
  echo "KJV text already in $target" >&2
  echo "$target"
  exit 0
fi

for tool in apt-get dpkg-deb dd gzip sha256sum od; do
  if ! command -v "$tool" > /dev/null 2>&1; then
    echo "error: $tool not found. The text comes from Debian's package $package (a Debian-based system fetches it);" \
         "or put any UTF-8 text of your own at $target." >&2
    exit 1
  fi
done

mkdir -p "$dir"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/backprop-kjv-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "Downloading $package (about 2.4 MB) ..." >&2
if ! (cd "$tmp" && apt-get download "$package" > "$tmp/apt.log" 2>&1); then
  echo "error: apt-get download $package failed (after 'apt-get update', if the package lists are empty):" >&2
  sed 's/^/  /' "$tmp/apt.log" >&2
  exit 1
fi
debs=("$tmp"/*.deb)
[[ -f "${debs[0]}" ]] || { echo "error: apt-get download produced no .deb" >&2; exit 1; }

dpkg-deb -x "${debs[0]}" "$tmp/root"
data="$tmp/root/usr/lib/bible.data"
[[ -f "$data" ]] || { echo "error: $package has no usr/lib/bible.data" >&2; exit 1; }

# Header: "EC" "02", an 80-byte description, window size and window count (big-endian 32-bit), then count + 1
# window offsets (the last is the end of the data).
[[ "$(head -c 4 "$data")" == "EC02" ]] || { echo "error: $data is not a Bible Retrieval System EC02 file" >&2; exit 1; }
be32() { od -An -tu1 -j"$1" -N4 "$data" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'; }
windows="$(be32 88)"
(( windows > 0 && windows < 10000 )) || { echo "error: $data: implausible window count $windows" >&2; exit 1; }

partial="$target.$$.partial"
: > "$partial"
for ((w = 0; w < windows; w++)); do
  start="$(be32 $((92 + 4 * w)))"
  end="$(be32 $((96 + 4 * w)))"
  if ! { printf '\037\235\220'; dd if="$data" iflag=skip_bytes,count_bytes bs=64K skip="$start" count="$((end - start))" status=none; } | gzip -dc >> "$partial"; then
    rm -f "$partial"
    echo "error: window $w of $data (bytes $start-$end) does not decompress" >&2
    exit 1
  fi
done

why="$(problem "$partial")"
if [[ -n "$why" ]]; then
  rm -f "$partial"
  echo "error: $package decoded to a text that is not the expected one: $why. Nothing was written to $target." >&2
  exit 1
fi
mv -f "$partial" "$target"

echo "KJV text ready in $target" >&2
echo "$target"
