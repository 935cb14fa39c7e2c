using System.Numerics;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.CodeAnalysis;
using Xunit;
using static Backprop.Functional.Generators.Tests.ParityProperties;

namespace Backprop.Functional.Generators.Tests;

/// <summary>
/// Same math over declarations nobody wrote by hand: <see cref="Declarations"/> random attribute declarations (depths 1–4,
/// widths 1–40, every hidden activation, every loss with an output activation it fits) compiled with the generator in
/// memory, in one compilation, emitted to a stream and loaded in a collectible <see cref="AssemblyLoadContext"/> (the test
/// uses reflection to bind the emitted methods to delegates; the library never does). Each property case takes one of them:
/// aᴸ and ∂C/∂θ equal the runtime network's (batches: double 1e-12 relative, float bit for bit; one sample: the
/// <see cref="ParityProperties.FloatBound"/>/<see cref="ParityProperties.DoubleBound"/> bound), ∂C/∂θ equals central
/// finite differences in double, and with Adam the generated TrainOnline equals the generated TrainStep bit for bit.
/// </summary>
public sealed class DeclarationProperties
{
    /// <summary>How many declarations the one compilation holds.</summary>
    private const int Declarations = 40;

    private static readonly string[] Hidden = ["Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus", "GELU"];

    private delegate ReadOnlySpan<T> ForwardFn<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private delegate T BackwardFn<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private delegate T TrainStepFn<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private delegate T TrainOnlineFn<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws,
        GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>One compiled declaration: its text, its Spec, and its emitted methods for one element type.</summary>
    private sealed record Compiled(string Source, NetworkSpec Spec, Methods<double> InDouble, Methods<float> InFloat);

    private sealed record Methods<T>(ForwardFn<T> Forward, BackwardFn<T> Backward, TrainStepFn<T> TrainStep, TrainOnlineFn<T> TrainOnline)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static Methods<T> Of(Type type) => new(
            Bind<ForwardFn<T>>(type, "Forward"), Bind<BackwardFn<T>>(type, "Backward"),
            Bind<TrainStepFn<T>>(type, "TrainStep"), Bind<TrainOnlineFn<T>>(type, "TrainOnline"));

        private static TDelegate Bind<TDelegate>(Type type, string name) where TDelegate : Delegate =>
            type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(typeof(T)).CreateDelegate<TDelegate>();
    }

    private static readonly Lazy<Compiled[]> s_networks = new(Compile);

    /// <summary>A declaration drawn from <paramref name="random"/>: its source text. With <paramref name="maxRecurrent"/> &gt; 0,
    /// 0 … maxRecurrent recurrent layers ([Rnn] tanh or ReLU, [Lstm], [Gru]; 1–10 features, hidden 1–12, the last one's hidden
    /// the dense head's input) come before the dense layers; with 0 (this suite) no extra draw is made, so the dense
    /// declarations are the ones they always were.</summary>
    internal static string Declaration(Random random, int index, int maxRecurrent = 0)
    {
        int depth = 1 + random.Next(4);
        var widths = new int[depth + 1];
        for (int i = 0; i <= depth; i++) widths[i] = 1 + random.Next(40);
        var (loss, output) = random.Next(3) switch
        {
            0 => ("SoftmaxCrossEntropy", "Softmax"),
            1 => ("CrossEntropy", "Sigmoid"),
            _ => ("Quadratic", QuadraticOutput(random.Next(Hidden.Length + 1))),
        };
        var text = new StringBuilder("using Backprop.Functional;\nnamespace Declared;\n");
        text.Append("[Network(Loss = typeof(").Append(loss).Append("))]\n");
        int recurrent = maxRecurrent > 0 ? random.Next(maxRecurrent + 1) : 0;
        int features = recurrent > 0 ? 1 + random.Next(10) : 0;
        for (int k = 0; k < recurrent; k++)
        {
            int hidden = k == recurrent - 1 ? widths[0] : 1 + random.Next(12);
            text.Append(random.Next(4) switch
            {
                0 => $"[Rnn({features}, {hidden})]\n",
                1 => $"[Rnn({features}, {hidden}, typeof(ReLU))]\n",
                2 => $"[Lstm({features}, {hidden})]\n",
                _ => $"[Gru({features}, {hidden})]\n",
            });
            features = hidden;
        }
        for (int l = 0; l < depth; l++)
        {
            string activation = l == depth - 1 ? output : Hidden[random.Next(Hidden.Length)];
            text.Append("[Dense(").Append(widths[l]).Append(", ").Append(widths[l + 1]).Append(", typeof(").Append(activation).Append("))]\n");
        }
        return text.Append("public static partial class Net").Append(index).Append(";\n").ToString();
    }

    /// <summary>Any hidden activation, or softmax, as a quadratic cost's output.</summary>
    private static string QuadraticOutput(int k) => k == Hidden.Length ? "Softmax" : Hidden[k];

    private static Compiled[] Compile()
    {
        var random = new Random(18);
        string[] sources = [.. Enumerable.Range(0, Declarations).Select(i => Declaration(random, i))];
        var assembly = Load(sources, "Declarations");
        return [.. sources.Select((source, i) =>
        {
            var type = assembly.GetType("Declared.Net" + i)!;
            var spec = (NetworkSpec)type.GetProperty("Spec")!.GetValue(null)!;
            return new Compiled(source, spec, Methods<double>.Of(type), Methods<float>.Of(type));
        })];
    }

    /// <summary>The generator run over <paramref name="sources"/> in one Release compilation, emitted to a stream and
    /// loaded in a collectible context named <paramref name="context"/>; throws with the first errors if it does not compile.</summary>
    internal static Assembly Load(string[] sources, string context)
    {
        var input = GeneratorHarness.Compilation(sources);
        input = input.WithOptions(input.Options.WithOptimizationLevel(OptimizationLevel.Release));
        GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(input, out var output, out var generatorDiagnostics);
        using var stream = new MemoryStream();
        var emitted = output.Emit(stream);
        var errors = generatorDiagnostics.Concat(emitted.Diagnostics).Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        if (!emitted.Success || errors.Length > 0)
            throw new InvalidOperationException("the declarations did not compile:\n" + string.Join("\n", errors.Take(10)));
        stream.Position = 0;
        return new AssemblyLoadContext(context, isCollectible: true).LoadFromStream(stream);
    }

    [Fact]
    public void The_declarations_cover_every_depth_activation_and_loss()
    {
        var specs = s_networks.Value.Select(n => n.Spec).ToArray();
        Assert.Equal(new[] { 1, 2, 3, 4 }, specs.Select(s => s.Layers.Count).Distinct().Order());
        Assert.Equal(3, specs.Select(s => s.Loss).Distinct().Count());
        var activations = specs.SelectMany(s => s.Layers.Cast<Dense>().Select(d => d.Activation)).Distinct().ToArray();
        Assert.Equal(Hidden.Length + 1, activations.Length);
        Assert.Contains(specs, s => s.Layers.Cast<Dense>().Any(d => d.Inputs < 8));   // the narrow (flat) update
    }

    [Property(MaxTest = 120)]
    public Property Generated_equals_runtime_and_finite_differences(NonNegativeInt which, int seed, byte rawRows)
    {
        var network = s_networks.Value[which.Get % Declarations];
        int rows = rawRows % 2 == 0 ? 1 : 2 + rawRows % 2;
        string failure = CheckPasses(network, seed, rows) ?? CheckOnline(network.Spec, network.InFloat, seed) ?? CheckOnline(network.Spec, network.InDouble, seed) ?? "";
        return (failure.Length == 0).Label($"{network.Spec}, rows {rows}, seed {seed}: {failure}\n{network.Source}");
    }

    /// <summary>aᴸ and ∂C/∂θ against the runtime in double and float, then three central differences in double.</summary>
    private static string? CheckPasses(Compiled network, int seed, int rows)
    {
        var spec = network.Spec;
        var random = new Random(seed);
        using var runtime = Network<double>.Create(spec, seed);
        double[] theta = runtime.Parameters.ToArray();
        double[] x = Data(random, rows * spec.Inputs);
        double[] y = Targets(random, spec, rows);
        using var ws = new Workspace<double>(spec.Layers, rows);
        using var wsRuntime = runtime.CreateWorkspace(rows);
        double[] a = network.InDouble.Forward(theta, x, ws).ToArray();
        double[] g = new double[theta.Length];
        double cost = network.InDouble.Backward(theta, x, y, ws, g);
        double[] aRuntime = runtime.Forward(x, wsRuntime).ToArray();
        double[] gRuntime = new double[theta.Length];
        double costRuntime = runtime.Backward(x, y, wsRuntime, gRuntime);
        string? failure = rows > 1
            ? Close(a, aRuntime, "aᴸ") ?? Close([cost], [costRuntime], "cost") ?? Close(g, gRuntime, "∂C/∂θ")
            : Near(a, aRuntime, "aᴸ", DoubleBound, RoundingScale.Output<double>(spec, theta, x))
              ?? Near(g, gRuntime, "∂C/∂θ", DoubleBound, RoundingScale.Gradient<double>(spec, theta, x, y, aRuntime, gRuntime));
        if (failure is not null) return "double " + failure;

        float[] thetaF = [.. theta.Select(v => (float)v)];
        float[] xF = [.. x.Select(v => (float)v)];
        float[] yF = [.. y.Select(v => (float)v)];
        using var runtimeF = Network<float>.FromParameters(spec, thetaF);
        using var wsF = new Workspace<float>(spec.Layers, rows);
        using var wsRuntimeF = runtimeF.CreateWorkspace(rows);
        float[] aF = network.InFloat.Forward(thetaF, xF, wsF).ToArray();
        float[] gF = new float[theta.Length];
        float costF = network.InFloat.Backward(thetaF, xF, yF, wsF, gF);
        float[] aRuntimeF = runtimeF.Forward(xF, wsRuntimeF).ToArray();
        float[] gRuntimeF = new float[theta.Length];
        float costRuntimeF = runtimeF.Backward(xF, yF, wsRuntimeF, gRuntimeF);
        failure = rows > 1
            ? Differs(aF, aRuntimeF, "float aᴸ") ?? Differs(gF, gRuntimeF, "float ∂C/∂θ") ?? (costF.Equals(costRuntimeF) ? null : $"float cost {costF} vs {costRuntimeF}")
            : Near(aF, aRuntimeF, "float aᴸ", FloatBound, RoundingScale.Output<float>(spec, thetaF, xF))
              ?? Near(gF, gRuntimeF, "float ∂C/∂θ", FloatBound, RoundingScale.Gradient<float>(spec, thetaF, xF, yF, aRuntimeF, gRuntimeF));
        if (failure is not null) return failure;

        double[] scratch = new double[theta.Length];
        return CentralDifferences(theta, g, random, () =>
        {
            network.InDouble.Forward(theta, x, ws);
            return network.InDouble.Backward(theta, x, y, ws, scratch);
        });
    }

    /// <summary>Three one-sample Adam steps: the generated TrainOnline (its own fused Adam) leaves θ, the moments, the
    /// state and the cost exactly where the generated TrainStep (the library's Adam on the stored gradient) leaves them.</summary>
    private static string? CheckOnline<T>(NetworkSpec spec, Methods<T> methods, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        var adam = new Adam(0.01);
        using var runtime = Network<T>.Create(spec, seed);
        T[] theta = runtime.Parameters.ToArray();
        T[] thetaOnline = [.. theta];
        using var ws = new Workspace<T>(spec.Layers, 1);
        using var wsOnline = new Workspace<T>(spec.Layers, 1);
        using var buffers = adam.CreateBuffers<T>(theta.Length);
        using var buffersOnline = adam.CreateBuffers<T>(theta.Length);
        var g = new T[theta.Length];
        OptimizerState state = default, stateOnline = default;
        for (int step = 0; step < 3; step++)
        {
            T[] x = [.. Data(random, spec.Inputs).Select(T.CreateChecked)];
            T[] y = [.. Targets(random, spec, 1).Select(T.CreateChecked)];
            T cost = methods.TrainStep(theta, x, y, ws, g, adam, ref state, buffers, null);
            T costOnline = methods.TrainOnline(thetaOnline, x, y, wsOnline, adam, ref stateOnline, buffersOnline, null);
            string at = $"TrainOnline step {step} ({typeof(T).Name}): ";
            if (costOnline != cost) return at + $"cost {costOnline} vs {cost}";
            if (stateOnline != state) return at + $"state {stateOnline} vs {state}";
            string? differs = Differs(thetaOnline, theta, "θ") ?? Differs(buffersOnline.Moment(0).ToArray(), buffers.Moment(0).ToArray(), "m")
                ?? Differs(buffersOnline.Moment(1).ToArray(), buffers.Moment(1).ToArray(), "v");
            if (differs is not null) return at + differs;
        }
        return null;
    }
}
