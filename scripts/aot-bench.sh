#!/usr/bin/env bash
# The figures of the README's "AOT deployment" section: NativeAOT against the JIT on one machine, in one run.
#   scripts/aot-bench.sh [ROUNDS]      (default 5; MNIST in ~/.cache/backprop/mnist, see scripts/fetch-mnist.sh)
# 1. Steady-state speed: the throughput runner (bench/Backprop.Functional.Throughput, `e2e W`: one epoch, samples/s)
#    built for the JIT and published with NativeAOT (IlcInstructionSet from Directory.Build.targets: x86-64-v3 on x64,
#    or AOT_ISA=...), run alternately ROUNDS times per workload; medians and the AOT/JIT ratio of the medians.
# 2. Start-up: samples/PackageConsumer (via scripts/package-check.sh) and the backprop CLI, JIT and AOT, each run 21
#    times; the median wall time of `PackageConsumer --first-step` (process start to the end of its first training step)
#    and of `backprop --version`.
# 3. Sizes of the native binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rounds=${1:-5}
rid=$(dotnet --info | awk '/^ *RID:/ { print $2; exit }'); rid=${rid:-linux-x64}
isa_arg=(); [ -n "${AOT_ISA:-}" ] && isa_arg=(-p:IlcInstructionSet="$AOT_ISA")
out=artifacts/aot-bench
mkdir -p "$out"

dotnet build bench/Backprop.Functional.Throughput -c Release --nologo -v:q
jit=(dotnet bench/Backprop.Functional.Throughput/bin/Release/net10.0/Backprop.Functional.Throughput.dll)
dotnet publish bench/Backprop.Functional.Throughput -c Release -r "$rid" -p:PublishAot=true "${isa_arg[@]}" \
  --nologo -v:q -o "$out/throughput"
aot=("$out/throughput/Backprop.Functional.Throughput")
isa=$(dotnet msbuild bench/Backprop.Functional.Throughput -p:Configuration=Release -p:RuntimeIdentifier="$rid" \
  -p:PublishAot=true "${isa_arg[@]}" -getProperty:IlcInstructionSet)

rate() { "$@" | sed -n 's/.*"samples_per_s":\([0-9.]*\).*/\1/p'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

avx512=$(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), AVX-512: $avx512; AOT instruction set: ${isa:-ILC default}"
echo
echo "| workload | JIT samples/s (median of $rounds) | AOT samples/s | AOT ÷ JIT |"
echo "|---|---|---|---|"
for w in W1 W2 W4; do
  : > "$out/$w.jit"; : > "$out/$w.aot"
  for ((r = 0; r < rounds; r++)); do
    if ((r % 2 == 0)); then rate "${jit[@]}" e2e "$w" >> "$out/$w.jit"; rate "${aot[@]}" e2e "$w" >> "$out/$w.aot"
    else rate "${aot[@]}" e2e "$w" >> "$out/$w.aot"; rate "${jit[@]}" e2e "$w" >> "$out/$w.jit"; fi
  done
  j=$(median < "$out/$w.jit"); a=$(median < "$out/$w.aot")
  printf '| %s | %.0f | %.0f | %.2f× |\n' "$w" "$j" "$a" "$(awk -v a="$a" -v j="$j" 'BEGIN { print a / j }')"
done

# Start-up: wall time of a command in ms, median of 21 runs.
wall() {
  for ((i = 0; i < 21; i++)); do
    local t0 t1; t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N); echo $(((t1 - t0) / 1000))
  done | median | awk '{ printf "%.1f", $1 / 1000 }'
}
consumer=$(PACKAGE_CHECK_KEEP=1 scripts/package-check.sh | sed -n 's/^package-check: keeping //p')
app=$consumer/PackageConsumer
dotnet build src/Backprop.Cli -c Release --nologo -v:q
dotnet publish src/Backprop.Cli -c Release -r "$rid" -p:PublishAot=true "${isa_arg[@]}" --nologo -v:q -o "$out/cli"
echo
echo "| start-up (median of 21) | JIT | AOT |"
echo "|---|---|---|"
echo "| PackageConsumer --first-step (process start to first training step done) | $(wall dotnet "$app/bin/Release/net10.0/PackageConsumer.dll" --first-step) ms | $(wall "$consumer/aot/PackageConsumer" --first-step) ms |"
echo "| backprop --version | $(wall src/Backprop.Cli/bin/Release/net10.0/backprop --version) ms | $(wall "$out/cli/backprop" --version) ms |"
echo
echo "| native binary | size |"
echo "|---|---|"
kib() { du -k "$1" | cut -f1; }
echo "| PackageConsumer (the package's sample) | $(kib "$consumer/aot/PackageConsumer") KiB |"
echo "| backprop (CLI) | $(kib "$out/cli/backprop") KiB, plus libSkiaSharp.so $(kib "$out/cli/libSkiaSharp.so") KiB and libHarfBuzzSharp.so $(kib "$out/cli/libHarfBuzzSharp.so") KiB |"
echo "| Backprop.Functional.Throughput | $(kib "$out/throughput/Backprop.Functional.Throughput") KiB |"
rm -rf "$consumer"
