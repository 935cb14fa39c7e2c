using System.Globalization;
using System.Numerics;
using System.Reflection;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Generators.Tests.ParityProperties;

namespace Backprop.Functional.Generators.Tests;

/// <summary>
/// What a declaration fixes, checked over random declarations (<see cref="DeclarationProperties.Declaration"/>'s networks,
/// each with a random <c>[Optimizer]</c> of the five kinds with a random subset of its properties, and a random
/// initialisation, seed and thread count), compiled with the generator in memory: the generated <c>DeclaredOptimizer</c>
/// equals the record built here from the same values; <c>Initialize</c> draws the bits <c>Network.Create</c> draws; and three
/// steps of the TrainStep overload without an optimizer leave θ, every moment and the state exactly where the runtime
/// record's <c>Update</c> on the same gradient leaves them (batch 1–3, float and double, a schedule's rate on two of the
/// steps); where the optimizer fuses, the TrainOnline overload without an optimizer leaves them there too.
/// </summary>
public sealed partial class DeclaredOptimizerProperties
{
    private const int Declarations = 30;

    private static readonly string[] Kinds = ["Sgd", "Momentum", "Adam", "AdamW", "RmsProp"];

    private static readonly string[] Schemes = ["PyTorch", "Nielsen", "Xavier", "He", "Sparse"];

    private delegate T StepFn<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate) where T : unmanaged, IFloatingPointIeee754<T>;

    private delegate T OnlineFn<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws,
        ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate) where T : unmanaged, IFloatingPointIeee754<T>;

    private delegate void InitializeFn<T>(Span<T> theta) where T : unmanaged, IFloatingPointIeee754<T>;

    private sealed record Declared(string Source, NetworkSpec Spec, Optimizer Expected, Optimizer Generated, Initialization Scheme,
        long Seed, int Threads, Type Type);

    private static readonly Lazy<Declared[]> s_networks = new(Compile);

    /// <summary>A random optimizer declaration and the record it means, built here with <c>with</c> from the defaults.</summary>
    private static (string Attribute, Optimizer Record) RandomOptimizer(Random random)
    {
        string kind = Kinds[random.Next(Kinds.Length)];
        Optimizer record = kind switch
        {
            "Sgd" => new Sgd(),
            "Momentum" => new Momentum(),
            "Adam" => new Adam(),
            "AdamW" => new AdamW(),
            _ => new RmsProp(),
        };
        var set = new List<string>();
        void Set(string name, double value, Func<Optimizer, Optimizer> with)
        {
            if (random.Next(2) == 0) return;
            set.Add(name + " = " + value.ToString("R", CultureInfo.InvariantCulture));
            record = with(record);
        }
        void SetBool(string name, Func<Optimizer, Optimizer> with)
        {
            if (random.Next(3) != 0) return;
            set.Add(name + " = true");
            record = with(record);
        }
        double rate = Math.Round(0.001 + random.NextDouble() * 0.05, 4), decay = Math.Round(random.NextDouble() * 0.05, 3);
        double beta1 = Math.Round(0.5 + random.NextDouble() * 0.45, 3), beta2 = Math.Round(0.9 + random.NextDouble() * 0.099, 4);
        double eps = random.Next(2) == 0 ? 1e-7 : 1e-6, mu = Math.Round(random.NextDouble() * 0.95, 2), fraction = Math.Round(random.NextDouble(), 2);
        Set("LearningRate", rate, o => o switch
        {
            Sgd s => s with { LearningRate = rate }, Momentum m => m with { LearningRate = rate }, Adam a => a with { LearningRate = rate },
            AdamW a => a with { LearningRate = rate }, RmsProp r => r with { LearningRate = rate }, _ => o,
        });
        Set("WeightDecay", decay, o => o switch
        {
            Sgd s => s with { WeightDecay = decay }, Momentum m => m with { WeightDecay = decay }, Adam a => a with { WeightDecay = decay },
            AdamW a => a with { WeightDecay = decay }, RmsProp r => r with { WeightDecay = decay }, _ => o,
        });
        switch (record)
        {
            case Adam or AdamW:
                Set("Beta1", beta1, o => o is Adam a ? a with { Beta1 = beta1 } : ((AdamW)o) with { Beta1 = beta1 });
                Set("Beta2", beta2, o => o is Adam a ? a with { Beta2 = beta2 } : ((AdamW)o) with { Beta2 = beta2 });
                Set("Epsilon", eps, o => o is Adam a ? a with { Epsilon = eps } : ((AdamW)o) with { Epsilon = eps });
                SetBool("Amsgrad", o => o is Adam a ? a with { Amsgrad = true } : ((AdamW)o) with { Amsgrad = true });
                break;
            case Momentum:
                Set("Mu", mu, o => ((Momentum)o) with { Mu = mu });
                Set("Dampening", fraction, o => ((Momentum)o) with { Dampening = fraction });
                break;
            case RmsProp:
                Set("Alpha", fraction, o => ((RmsProp)o) with { Alpha = fraction });
                Set("Epsilon", eps, o => ((RmsProp)o) with { Epsilon = eps });
                Set("Mu", mu, o => ((RmsProp)o) with { Mu = mu });
                SetBool("Centered", o => ((RmsProp)o) with { Centered = true });
                break;
        }
        string attribute = "[Optimizer(typeof(" + kind + ")" + string.Concat(set.Select(s => ", " + s)) + ")]\n";
        return (attribute, record);
    }

    private static Declared[] Compile()
    {
        var random = new Random(1818);
        var drawn = Enumerable.Range(0, Declarations).Select(i =>
        {
            string source = DeclarationProperties.Declaration(random, i);
            var (attribute, record) = RandomOptimizer(random);
            var scheme = Enum.Parse<Initialization>(Schemes[random.Next(Schemes.Length)]);
            long seed = random.NextInt64(-1_000_000, 1_000_000);
            int threads = 1 + random.Next(2);
            source = NetworkLine().Replace(source, m =>
                $"[Network({m.Groups["args"].Value}, Initialization = Initialization.{scheme}, Seed = {seed}, Threads = {threads})]\n" + attribute, 1);
            return (source, record, scheme, seed, threads);
        }).ToArray();
        var assembly = DeclarationProperties.Load([.. drawn.Select(d => d.source)], "DeclaredOptimizers");
        return [.. drawn.Select((d, i) =>
        {
            var type = assembly.GetType("Declared.Net" + i)!;
            return new Declared(d.source, (NetworkSpec)type.GetProperty("Spec")!.GetValue(null)!, d.record,
                (Optimizer)type.GetProperty("DeclaredOptimizer")!.GetValue(null)!, d.scheme, d.seed, d.threads, type);
        })];
    }

    private static TDelegate Bind<TDelegate, T>(Type type, string name, int parameters) where TDelegate : Delegate =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Static).Single(m => m.Name == name && m.GetParameters().Length == parameters)
            .MakeGenericMethod(typeof(T)).CreateDelegate<TDelegate>();

    [Fact]
    public void The_declarations_cover_every_optimizer_and_the_fused_and_stored_paths()
    {
        var kinds = s_networks.Value.Select(n => n.Expected.GetType().Name).Distinct().Order().ToArray();
        Assert.Equal(Kinds.Order(), kinds);
        Assert.Contains(s_networks.Value, n => n.Expected is Adam { Amsgrad: false });
        Assert.Contains(s_networks.Value, n => n.Threads == 2);
    }

    [Property(MaxTest = 90)]
    public Property Declared_step_equals_the_runtime_optimizers_Update_bit_for_bit(NonNegativeInt which, int seed, byte rawRows)
    {
        var network = s_networks.Value[which.Get % Declarations];
        int rows = rawRows % 2 == 0 ? 1 : 2 + rawRows % 2;
        string failure = Check<double>(network, seed, rows) ?? Check<float>(network, seed, rows) ?? "";
        return (failure.Length == 0).Label($"{network.Spec}, {network.Expected}, rows {rows}, seed {seed}: {failure}\n{network.Source}");
    }

    private static string? Check<T>(Declared network, int seed, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!network.Generated.Equals(network.Expected)) return $"DeclaredOptimizer {network.Generated} vs {network.Expected}";
        var spec = network.Spec;
        var optimizer = network.Expected;
        var step = Bind<StepFn<T>, T>(network.Type, "TrainStep", 8);
        var initialize = Bind<InitializeFn<T>, T>(network.Type, "Initialize", 1);
        var createWorkspace = network.Type.GetMethod("CreateWorkspace")!.MakeGenericMethod(typeof(T));
        var createBuffers = network.Type.GetMethod("CreateOptimizerBuffers")!.MakeGenericMethod(typeof(T));
        bool online = rows == 1 && OuterProductUpdate.Supports(optimizer);

        var theta = new T[spec.Layout.Count];
        initialize(theta);
        using var drawn = Network<T>.Create(spec, network.Seed, network.Scheme);
        string? differs = Differs(theta, drawn.Parameters.ToArray(), "Initialize θ");
        if (differs is not null) return differs;

        T[] thetaRuntime = [.. theta], thetaOnline = [.. theta];
        using var ws = (Workspace<T>)createWorkspace.Invoke(null, [rows])!;
        using var wsOnline = (Workspace<T>)createWorkspace.Invoke(null, [1])!;
        if (ws.Threads != network.Threads) return $"workspace threads {ws.Threads} vs {network.Threads}";
        using var buffers = (OptimizerBuffers<T>)createBuffers.Invoke(null, null)!;
        using var buffersOnline = (OptimizerBuffers<T>)createBuffers.Invoke(null, null)!;
        using var buffersRuntime = optimizer.CreateBuffers<T>(theta.Length);
        var g = new T[theta.Length];
        OptimizerState state = default, stateRuntime = default, stateOnline = default;
        var random = new Random(seed);
        for (int k = 0; k < 3; k++)
        {
            T[] x = [.. Data(random, rows * spec.Inputs).Select(T.CreateChecked)];
            T[] y = [.. Targets(random, spec, rows).Select(T.CreateChecked)];
            double? eta = k == 0 ? null : optimizer.LearningRate * (k + 1) / 2;   // the declared rate, then a schedule's
            T cost = step(theta, x, y, ws, g, ref state, buffers, eta);
            stateRuntime = optimizer.Update<T>(stateRuntime, thetaRuntime, g, buffersRuntime, eta ?? optimizer.LearningRate);
            string at = $"step {k} ({typeof(T).Name}): ";
            if (state != stateRuntime) return at + $"state {state} vs {stateRuntime}";
            differs = Differs(theta, thetaRuntime, "θ");
            for (int m = 0; differs is null && m < buffers.Count; m++)
                differs = Differs(buffers.Moment(m).ToArray(), buffersRuntime.Moment(m).ToArray(), $"moment {m}");
            if (differs is not null) return at + differs;
            if (!online) continue;
            var trainOnline = Bind<OnlineFn<T>, T>(network.Type, "TrainOnline", 7);
            T costOnline = trainOnline(thetaOnline, x, y, wsOnline, ref stateOnline, buffersOnline, eta);
            if (costOnline != cost) return at + $"TrainOnline cost {costOnline} vs {cost}";
            if (stateOnline != state) return at + $"TrainOnline state {stateOnline} vs {state}";
            differs = Differs(thetaOnline, theta, "TrainOnline θ");
            for (int m = 0; differs is null && m < buffers.Count; m++)
                differs = Differs(buffersOnline.Moment(m).ToArray(), buffers.Moment(m).ToArray(), $"TrainOnline moment {m}");
            if (differs is not null) return at + differs;
        }
        return null;
    }

    [GeneratedRegex(@"^\[Network\((?<args>.*)\)\]\n", RegexOptions.Multiline)]
    private static partial Regex NetworkLine();
}
