using System.Numerics;
using System.Runtime.Intrinsics;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>
/// Which vector width the kernels run in this process, checked against what the CPU offers (/proc/cpuinfo) and what
/// the runtime was told to use (DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0, DOTNET_EnableHWIntrinsic=0). CI runs the
/// kernel and equation suites again under each of those variables; this test shows those runs really take the
/// 256-bit, 128-bit and scalar paths (the widest accelerated vector picks the GEMM micro-kernel and tiles).
/// </summary>
public sealed class SimdPathTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void The_widest_accelerated_vector_is_what_the_cpu_and_the_runtime_settings_allow()
    {
        string widest = Vector512.IsHardwareAccelerated ? "512" : Vector256.IsHardwareAccelerated ? "256"
            : Vector128.IsHardwareAccelerated ? "128" : "scalar";
        output.WriteLine($"SIMD path: widest accelerated vector {widest} (Vector512 {Vector512.IsHardwareAccelerated}, "
            + $"Vector256 {Vector256.IsHardwareAccelerated}, Vector128 {Vector128.IsHardwareAccelerated}, "
            + $"Vector<float>.Count {Vector<float>.Count})");

        Skip.IfNot(OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture
            == System.Runtime.InteropServices.Architecture.X64, "reads the CPU's features from /proc/cpuinfo: x64 Linux only");
        string flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal));
        var has = flags[(flags.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();

        // What the CPU allows: Vector512 needs AVX-512 F, BW, CD, DQ and VL; Vector256 needs AVX2; x64 always has SSE2.
        int width = new[] { "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl" }.All(has.Contains) ? 512
            : has.Contains("avx2") ? 256 : 128;
        // What the runtime was told.
        // .NET 10 reads DOTNET_EnableAVX512 (the older DOTNET_EnableAVX512F no longer turns 512-bit vectors off).
        if (Off("DOTNET_EnableAVX512")) width = Math.Min(width, 256);
        if (Off("DOTNET_EnableAVX2") || Off("DOTNET_EnableAVX")) width = Math.Min(width, 128);
        if (Off("DOTNET_EnableHWIntrinsic")) width = 0;

        string expected = width == 0 ? "scalar" : width.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // On CPUs that slow down for 512-bit instructions the runtime prefers 256-bit vectors even with AVX-512.
        if (width == 512 && widest == "256") expected = "256";
        Assert.Equal(expected, widest);
    }

    private static bool Off(string variable) => Environment.GetEnvironmentVariable(variable) == "0";
}
