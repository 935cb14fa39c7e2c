using BenchmarkDotNet.Running;

namespace Backprop.Functional.Benchmarks;

/// <summary>Entry point. Run: <c>dotnet run -c Release --project bench/Backprop.Functional.Benchmarks -- --filter *GeneratedVsRuntime* --job short</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
