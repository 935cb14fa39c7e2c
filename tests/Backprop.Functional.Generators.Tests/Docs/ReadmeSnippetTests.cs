using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace Backprop.Functional.Generators.Tests.Docs;

/// <summary>The README's C# examples, compiled from README.md itself (so the README is the only copy and cannot rot):
/// every ```csharp block compiles with the generator and its analyzer, as a console program with the SDK's implicit usings, and without
/// a warning; the 15-line example also runs, and its printed lines are checked. Blocks that use variables the README
/// declares elsewhere (net, image, theta …) get a preamble declaring them, and nothing else.</summary>
public class ReadmeSnippetTests
{
    /// <summary>What the SDK's implicit usings give a console app, and a capture of Console.WriteLine.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using Console = ReadmeRun.Console;

        namespace ReadmeRun
        {
            public static class Console
            {
                public static readonly List<string> Lines = new();
                public static void WriteLine(string line) => Lines.Add(line);
                public static void WriteLine(object? value) => Lines.Add(value?.ToString() ?? "");
                public static TextWriter Error => System.Console.Error;
                public static TextWriter Out => System.Console.Out;
            }
        }
        """;

    /// <summary>Declarations a block takes from the README's surrounding prose or earlier blocks, by (section, index).</summary>
    private static readonly Dictionary<(string Section, int Index), string> Preambles = new()
    {
        [("The library in 15 lines", 0)] = "",
        [("Training in C#", 0)] = "",
        [("Training in C#", 1)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            float[] x = [], y = [];
            """,
        [("Training in C#", 2)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            Dataset train = null!, test = null!;
            """,
        [("Training in C#", 3)] = "using Backprop.Functional;",
        [("Layer kinds", 0)] = "",
        [("Recurrent networks", 0)] = "",
        [("Neural ODEs", 0)] = "",
        [("Inference", 0)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            float[] image = new float[784];
            """,
        [("ONNX export", 0)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            """,
        [("ONNX export", 1)] = """
            using Backprop.Functional;
            """,
        [("Generated networks", 0)] = """
            using Backprop.Functional;
            float[] theta = new float[MnistMlp.ParameterCount], gradient = new float[MnistMlp.ParameterCount];
            float[] x = new float[64 * 784], y = new float[64 * 10], x1 = new float[784], y1 = new float[10];
            Optimizer optimizer = new Adam();
            var state = new OptimizerState(0);
            using var buffers = optimizer.CreateBuffers<float>(MnistMlp.ParameterCount);
            """,
        [("Generated networks", 1)] = """
            using Backprop.Functional;
            float[] theta = new float[Sine.ParameterCount], x = new float[Sine.InputSize], y = new float[Sine.OutputSize];
            using var ws = Sine.CreateWorkspace<float>(batch: 1);
            var state = default(OptimizerState);
            """,
        [("Generated networks", 2)] = """
            using Backprop.Functional;
            float[] theta = new float[SeqMnist.ParameterCount], gradient = new float[SeqMnist.ParameterCount];
            float[] x = new float[64 * 28 * 28], y = new float[64 * 10], rows = new float[28 * 28];
            int[] lengths = [.. Enumerable.Repeat(28, 64)];
            Optimizer optimizer = new Adam();
            var state = default(OptimizerState);
            using var buffers = optimizer.CreateBuffers<float>(SeqMnist.ParameterCount);
            """,
        [("Curvature and second-order optimisers", 0)] = "",
        [("Curvature and second-order optimisers", 1)] = """
            using Backprop.Functional;
            Dataset train = null!, test = null!;
            float[] x = new float[1000 * 784], y = new float[1000 * 10];
            """,
        [("Seeing inside backprop", 0)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            Dataset train = null!, test = null!;
            TrainingOptions options = null!;
            """,
        [("Training on every core", 0)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            Dataset train = null!, test = null!;
            """,
        [("Property-testing your own network", 0)] = "",
        [("Property-testing your own network", 1)] = "",
        [("Training on every core", 1)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            Dataset train = null!, test = null!;
            """,
        [("Training on every core", 2)] = """
            using Backprop.Functional;
            float[] p = [], x = [], z = [], a = [], dy = [], dx = [], dp = [];
            """,
        [("Distributed training with MPI", 0)] = """
            using Backprop.Functional;
            Network<float> net = null!;
            Dataset train = null!, test = null!;
            """,
        [("Checking gradients", 0)] = """
            using Backprop.Functional;
            Network<double> net = null!;
            double[] x = [], y = [];
            """,
    };

    /// <summary>Sections whose blocks are test classes (no statements): compiled as a library, against the property-test
    /// kit, FsCheck and xunit, as a user's test project is.</summary>
    private static readonly HashSet<string> TestClassSections = ["Property-testing your own network"];

    private static readonly Lazy<MetadataReference[]> TestReferences = new(() =>
    [
        .. new[]
        {
            typeof(Backprop.Functional.Testing.NetworkProperties), typeof(FsCheck.Property), typeof(FsCheck.Xunit.PropertyAttribute),
            typeof(Microsoft.FSharp.Core.FSharpFunc<,>), typeof(Xunit.FactAttribute), typeof(Xunit.Abstractions.ITestOutputHelper),
        }.Select(t => MetadataReference.CreateFromFile(t.Assembly.Location)),
    ]);

    /// <summary>Appended to the 15-line example when it runs: the gradient it printed passes the gradient check.</summary>
    private const string GradientCheckEpilogue = """

        var report = GradientCheck.Run(net, x, y, new GradientCheckOptions(Stencil: FiniteDifference.Central));
        Console.WriteLine(FormattableString.Invariant($"check: {report.ParametersChecked} {report.LossEvaluations} {report.MaxRelativeError:R} {cost:R}"));
        """;

    internal sealed record Block(string Section, int Index, int Line, string Code)
    {
        public override string ToString() => $"README.md:{Line} ({Section} #{Index})";
    }

    /// <summary>Every ```csharp block of README.md with its "## " section and index within it.</summary>
    internal static List<Block> Blocks(string readme)
    {
        var blocks = new List<Block>();
        var lines = readme.Split('\n');
        string section = "";
        var perSection = new Dictionary<string, int>();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.StartsWith("## ", StringComparison.Ordinal)) section = line[3..].Trim();
            if (line.Trim() != "```csharp") continue;
            int start = i + 1;
            int end = start;
            while (end < lines.Length && lines[end].TrimEnd('\r').Trim() != "```") end++;
            int index = perSection.GetValueOrDefault(section);
            perSection[section] = index + 1;
            blocks.Add(new Block(section, index, start + 1, string.Join('\n', lines[start..end].Select(l => l.TrimEnd('\r')))));
            i = end;
        }
        return blocks;
    }

    private static string Readme([CallerFilePath] string path = "") =>
        File.ReadAllText(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "..", "README.md"));

    /// <summary>The block as a program: preamble + its statements in one file (top-level statements), its type
    /// declarations (a [Network] class) in another, since C# wants statements first.</summary>
    private static string[] Sources(Block block, string epilogue = "")
    {
        var lines = block.Code.Split('\n');
        int declarationEnd = Array.FindIndex(lines, l => l.StartsWith("public ", StringComparison.Ordinal) && l.TrimEnd().EndsWith(';'));
        string declarations = declarationEnd < 0 ? "" : string.Join('\n', lines[..(declarationEnd + 1)]);
        string statements = declarationEnd < 0 ? block.Code : string.Join('\n', lines[(declarationEnd + 1)..]);
        string program = Preambles[(block.Section, block.Index)] + "\n#line " + (block.Line + declarationEnd + 1) + " \"README.md\"\n"
            + statements + "\n#line default\n" + epilogue;
        return declarations.Length == 0
            ? [ImplicitUsings, program]
            : [ImplicitUsings, program, "using Backprop.Functional;\n#line " + block.Line + " \"README.md\"\n" + declarations];
    }

    /// <summary>Compiles <paramref name="sources"/> as a console program, the generator run on it.</summary>
    private static Compilation Compile(string[] sources, bool testClasses = false)
    {
        var input = GeneratorHarness.Compilation(sources).WithOptions(new CSharpCompilationOptions(
            testClasses ? OutputKind.DynamicallyLinkedLibrary : OutputKind.ConsoleApplication,
            nullableContextOptions: NullableContextOptions.Enable,
            // The SDK's default NoWarn: FsCheck.Xunit was built against xunit.core 2.4.1, unified with 2.9.3 here.
            specificDiagnosticOptions: [new("CS1701", ReportDiagnostic.Suppress), new("CS1702", ReportDiagnostic.Suppress)]));
        if (testClasses) input = input.AddReferences(TestReferences.Value);
        GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(input, out var output, out var generatorDiagnostics);
        Assert.Empty(generatorDiagnostics);
        return output;
    }

    private static string Describe(IEnumerable<Diagnostic> diagnostics) => string.Join('\n', diagnostics.Select(d => d.ToString()));

    public static TheoryData<string, int> Known()
    {
        var data = new TheoryData<string, int>();
        foreach (var key in Preambles.Keys) data.Add(key.Section, key.Index);
        return data;
    }

    [Fact]
    public void Every_csharp_block_in_the_readme_is_one_this_test_compiles()
    {
        var found = Blocks(Readme()).Select(b => (b.Section, b.Index)).ToHashSet();
        Assert.True(found.SetEquals(Preambles.Keys),
            $"README blocks: {string.Join(", ", found)}; this test knows: {string.Join(", ", Preambles.Keys)}: give a new block its preamble here");
    }

    [Theory]
    [MemberData(nameof(Known))]
    public async Task Readme_block_compiles_without_a_diagnostic(string section, int index)
    {
        var block = Blocks(Readme()).Single(b => b.Section == section && b.Index == index);
        var compilation = Compile(Sources(block), TestClassSections.Contains(section));
        var analyzer = await compilation.WithAnalyzers([new NetworkAnalyzer(), new FitResultAnalyzer()]).GetAnalyzerDiagnosticsAsync();
        var diagnostics = compilation.GetDiagnostics().Concat(analyzer).Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray();
        Assert.True(diagnostics.Length == 0, $"{block}:\n{Describe(diagnostics)}");
    }

    [Fact]
    public void The_library_in_15_lines_runs_and_prints_each_tensor_and_a_gradient_that_passes_the_check()
    {
        var block = Blocks(Readme()).Single(b => b.Section == "The library in 15 lines");
        var lines = Run(Compile(Sources(block, GradientCheckEpilogue)));

        Assert.Equal(5, lines.Count);
        Assert.Equal(["layers.0.weight [8 × 4]", "layers.0.bias [8]", "layers.1.weight [3 × 8]", "layers.1.bias [3]"],
            lines.Take(4).Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]));
        foreach (var line in lines.Take(4))
        {
            Assert.Contains(": |g|₁ = ", line, StringComparison.Ordinal);
            double norm = double.Parse(line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..], CultureInfo.CurrentCulture);
            Assert.True(norm > 0 && double.IsFinite(norm), line);
        }
        var check = lines[4].Split(' ');
        Assert.Equal("67", check[1]);                                  // 8·4 + 8 + 3·8 + 3 parameters
        Assert.Equal("134", check[2]);                                 // two loss evaluations each (central stencil)
        Assert.True(double.Parse(check[3], CultureInfo.InvariantCulture) < 1e-6, lines[4]);
        double cost = double.Parse(check[4], CultureInfo.InvariantCulture);
        Assert.True(cost > 0 && double.IsFinite(cost), lines[4]);
    }

    /// <summary>Emits the program, runs its entry point in a collectible load context and returns what it printed.</summary>
    private static List<string> Run(Compilation compilation)
    {
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        Assert.True(emitted.Success, Describe(emitted.Diagnostics));
        var context = new AssemblyLoadContext("readme", isCollectible: true);
        try
        {
            image.Position = 0;
            var assembly = context.LoadFromStream(image);
            var main = assembly.EntryPoint!;
            main.Invoke(null, main.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            var printed = (List<string>)assembly.GetType("ReadmeRun.Console")!.GetField("Lines", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            return [.. printed];
        }
        finally
        {
            context.Unload();
        }
    }
}
