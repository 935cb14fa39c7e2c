#!/usr/bin/env bash
# The package as a user gets it (issue 17). Packs Backprop.Functional into the folder feed artifacts/feed, checks what
# the .nupkg holds, copies samples/PackageConsumer (a console app whose only reference is that package, with the
# generator's attributes declaring its network) into a temporary folder outside the repository, restores the package
# from the feed, builds it with warnings as errors and runs it (it exits non-zero unless its loss falls, it classifies
# its training set and its steady-state step allocates 0 bytes), then publishes it with PublishAot=true and runs the
# native binary the same way. Then the property-test kit as a user gets it: samples/PackageTestConsumer (an xunit
# project referencing both packages, applying NetworkProperties.GradientEqualsFiniteDifferences to its own network and
# ActivationProperties.DerivativeEqualsFiniteDifference to its own activation) is copied out too and `dotnet test`
# must pass; its class DeliberatelyWrong (an activation whose derivative forgot the product rule), run alone, must
# fail with the kit's message. Run by .ci/run; on its own: scripts/package-check.sh [--no-build]
#   --no-build             pack what `dotnet build -c Release` already built (as .ci/run does, right after building)
#   PACKAGE_CHECK_KEEP=1   keep the temporary folder (its path is printed)
set -euo pipefail
pack_args=()
for arg in "$@"; do
  case $arg in
    --no-build) pack_args+=(--no-build) ;;
    *) echo "usage: scripts/package-check.sh [--no-build]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
repo=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
rid=$(dotnet --info | awk '/^ *RID:/ { print $2; exit }')
rid=${rid:-linux-x64}
start=$SECONDS
step() { echo "== package-check: $* ($((SECONDS - start)) s)"; }

step "pack"
version=$(dotnet msbuild src/Backprop.Functional -getProperty:PackageVersion -p:Configuration=Release)
feed=$repo/artifacts/feed
mkdir -p "$feed"
rm -f "$feed"/Backprop.Functional."$version".nupkg
dotnet pack src/Backprop.Functional -c Release -o "$feed" --nologo "${pack_args[@]}"
nupkg=$feed/Backprop.Functional.$version.nupkg

step "contents of $(basename "$nupkg")"
entries=$(unzip -Z1 "$nupkg")
for want in lib/net10.0/Backprop.Functional.dll lib/net10.0/Backprop.Functional.xml \
            analyzers/dotnet/cs/Backprop.Functional.Generators.dll README.md LICENSE Backprop.Functional.nuspec; do
  grep -qx "$want" <<<"$entries" || { echo "package-check: $want is missing from $nupkg" >&2; exit 1; }
done
nuspec=$(unzip -p "$nupkg" Backprop.Functional.nuspec)
for want in "<version>$version</version>" '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<repository type="git"'; do
  grep -qF "$want" <<<"$nuspec" || { echo "package-check: the nuspec lacks $want" >&2; exit 1; }
done
# The library must not depend on the generator at run time: the analyzer ships as an analyzer only.
if grep -q 'Backprop.Functional.Generators' <<<"$(unzip -p "$nupkg" Backprop.Functional.nuspec)"; then
  echo "package-check: the nuspec names the generator as a dependency" >&2; exit 1
fi

# The second package, the property-test kit: its own nupkg beside the library's, depending on the same version.
step "pack the property-test kit"
dotnet pack src/Backprop.Functional.Testing -c Release -o "$feed" --nologo "${pack_args[@]}"
kit=$feed/Backprop.Functional.Testing.$version.nupkg
kit_entries=$(unzip -Z1 "$kit")
for want in lib/net10.0/Backprop.Functional.Testing.dll lib/net10.0/Backprop.Functional.Testing.xml README.md LICENSE; do
  grep -qx "$want" <<<"$kit_entries" || { echo "package-check: $want is missing from $kit" >&2; exit 1; }
done
kit_nuspec=$(unzip -p "$kit" Backprop.Functional.Testing.nuspec)
for want in "<version>$version</version>" "id=\"Backprop.Functional\" version=\"$version\"" 'id="FsCheck"'; do
  grep -qF "$want" <<<"$kit_nuspec" || { echo "package-check: the kit's nuspec lacks $want" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/backprop-package-check.XXXXXX")
if [ "${PACKAGE_CHECK_KEEP:-0}" = 1 ]; then echo "package-check: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
app=$work/PackageConsumer
mkdir -p "$app"
cp samples/PackageConsumer/*.cs samples/PackageConsumer/PackageConsumer.csproj "$app/"
# Shields: MSBuild and NuGet search upward from the project, so a Directory.Build.props/.targets,
# Directory.Packages.props or nuget.config in a parent of the temporary folder would reach the build; these stop them.
cp samples/PackageConsumer/Directory.Build.props samples/PackageConsumer/Directory.Build.targets \
   samples/PackageConsumer/Directory.Packages.props "$app/"
# The feed is added to the user's own sources (no <clear/>): the package's dependencies come from the usual registry.
cat > "$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="backprop-local" value="$feed" />
  </packageSources>
</configuration>
XML
# A package of this id and version restored before (by an earlier check) would be taken from the global packages
# folder instead of the new .nupkg; remove that copy, and afterwards check the restored package is the new one.
packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
rm -rf "$packages/backprop.functional/$version" "$packages/backprop.functional.testing/$version"
# restored ID FILE: the package ID restored into the global packages folder is FILE, the one just packed.
restored() {
  local id=${1,,}
  cmp -s "$2" "$packages/$id/$version/$id.$version.nupkg" ||
    { echo "package-check: the restored $1 $version is not the one just packed" >&2; exit 1; }
}

step "build (warnings as errors)"
dotnet build "$app" -c Release -p:BackpropFunctionalVersion="$version" -warnaserror --nologo
restored Backprop.Functional "$nupkg"
step "run (JIT)"
dotnet "$app/bin/Release/net10.0/PackageConsumer.dll"

step "publish with PublishAot=true ($rid)"
dotnet publish "$app" -c Release -r "$rid" -p:PublishAot=true -p:BackpropFunctionalVersion="$version" -warnaserror \
  --nologo -o "$work/aot"
step "run the native binary ($(du -k "$work/aot/PackageConsumer" | cut -f1) KiB)"
"$work/aot/PackageConsumer"

# The property-test kit in a user's test project, outside the repository like the console app.
tests=$work/PackageTestConsumer
mkdir -p "$tests"
cp samples/PackageTestConsumer/*.cs samples/PackageTestConsumer/PackageTestConsumer.csproj \
   samples/PackageTestConsumer/Directory.Build.props samples/PackageTestConsumer/Directory.Build.targets \
   samples/PackageTestConsumer/Directory.Packages.props "$tests/"
cp "$app/nuget.config" "$tests/"
step "test project: build against both packages (warnings as errors)"
dotnet build "$tests" -c Release -p:BackpropFunctionalVersion="$version" -warnaserror --nologo
restored Backprop.Functional.Testing "$kit"
step "test project: dotnet test (the user's network and activation pass)"
dotnet test "$tests" -c Release --no-build --nologo --filter "FullyQualifiedName!~DeliberatelyWrong"
step "test project: a wrong derivative must fail"
set +e
wrong=$(dotnet test "$tests" -c Release --no-build --nologo --filter "FullyQualifiedName~DeliberatelyWrong" 2>&1)
status=$?
set -e
if [ "$status" = 0 ]; then
  echo "$wrong"; echo "package-check: the kit passed an activation whose derivative is wrong" >&2; exit 1
fi
for want in "WrongSwish.Derivative(z, a) at z = " "but the finite difference of WrongSwish.Value is" "Failed!"; do
  if ! grep -qF "$want" <<<"$wrong"; then
    echo "$wrong"; echo "package-check: the failing test's output lacks \"$want\"" >&2; exit 1
  fi
done
grep -F "Label of failing property" <<<"$wrong" | head -1
step "passed: Backprop.Functional $version from the folder feed, built, run, published with NativeAOT and run; the kit's properties pass a user's network and activation and catch a wrong derivative"
