#!/usr/bin/env bash
# Alternates end-to-end runs of two published builds of bench/Backprop.Functional.Throughput (old, new) on the same
# machine in one run and prints the medians and new ÷ old. Usage:
#   scripts/before-after.sh OLD_DIR NEW_DIR RUNS W1:1:samples_per_s W2:2:samples_per_s W4:1:steps_per_s I1:1:median_us I1:2:forward_median_us
# (workload:threads:metric; build each with `dotnet publish bench/Backprop.Functional.Throughput -c Release -o DIR`).
old=$1; new=$2; runs=$3; shift 3; mnist=$HOME/.cache/backprop/mnist
for spec in "$@"; do
  IFS=: read w t m <<<"$spec"
  o=(); n=()
  for r in $(seq $runs); do
    o+=($(dotnet $old/Backprop.Functional.Throughput.dll e2e $w --threads $t --data $mnist 2>/dev/null | sed -n 's/^RESULT //p' | python3 -c "import json,sys; print(json.load(sys.stdin)['$m'])"))
    n+=($(dotnet $new/Backprop.Functional.Throughput.dll e2e $w --threads $t --data $mnist 2>/dev/null | sed -n 's/^RESULT //p' | python3 -c "import json,sys; print(json.load(sys.stdin)['$m'])"))
  done
  python3 - "$w" "$m" "${o[*]}" "${n[*]}" <<'PY'
import sys, statistics as s
w, m, o, n = sys.argv[1], sys.argv[2], list(map(float, sys.argv[3].split())), list(map(float, sys.argv[4].split()))
mo, mn = s.median(o), s.median(n)
print(f"{w} {m}: before {mo:,.2f}  after {mn:,.2f}  after/before {mn/mo:.3f}   (before {[round(x,2) for x in o]}, after {[round(x,2) for x in n]})")
PY
done
