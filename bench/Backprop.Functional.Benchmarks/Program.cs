using BenchmarkDotNet.Running;

namespace Backprop.Functional.Benchmarks;

/// <summary>Entry point. Run: <c>dotnet run -c Release --project bench/Backprop.Functional.Benchmarks -- --filter *GeneratedVsRuntime* --job short</c>.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "alternate")   // GeneratedAlternation: the generated one-sample steps against the runtime's, alternated
        {
            GeneratedAlternation.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 7);
            return;
        }
        if (args.Length > 0 && args[0] == "alternate-recurrent")   // RecurrentAlternation: generated recurrent networks against the runtime's, alternated
        {
            RecurrentAlternation.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 7);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
