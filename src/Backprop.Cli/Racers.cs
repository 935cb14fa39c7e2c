using System.Globalization;
using Backprop.Functional;

namespace Backprop.Cli;

/// <summary>The optimizers <c>backprop optimizer-race</c> can run, each with the batch and settings it races with.</summary>
internal static class Racers
{
    internal static readonly string[] Names = ["sgd", "momentum", "adam", "hessian-free", "kfac", "natural", "adahessian"];

    /// <summary>One step of some optimizer on a batch; returns the batch's cost before the update.</summary>
    internal interface IStepper : IDisposable
    {
        float Step(Network<float> net, ReadOnlySpan<float> x, ReadOnlySpan<float> y);
    }

    internal sealed record Racer(string Name, string Description, int Batch, Func<Network<float>, IStepper> Start);

    /// <summary>Whether <paramref name="name"/> is a racer: one of <see cref="Names"/>, or a first-order one with its
    /// learning rate, <c>momentum:0.03</c>.</summary>
    public static bool IsKnown(string name)
    {
        var (bare, rate) = Split(name);
        return Names.Contains(bare) && (rate is null || (FirstOrderNames.Contains(bare) && rate > 0 && double.IsFinite(rate.Value)));
    }

    private static readonly string[] FirstOrderNames = ["sgd", "momentum", "adam"];

    private static (string Name, double? Rate) Split(string name)
    {
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return (name, null);
        return double.TryParse(name.AsSpan(colon + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double rate)
            ? (name[..colon], rate) : (name[..colon], double.NaN);
    }

    public static Racer Create(string name, NetworkSpec spec, OptimizerRace.RaceSettings s)
    {
        var c = CultureInfo.InvariantCulture;
        var (bare, rate) = Split(name);
        switch (bare)
        {
            case "sgd": return FirstOrder(name, new Sgd(rate ?? 0.1), 64, string.Create(c, $"SGD η {rate ?? 0.1:G}, batch 64"));
            case "momentum": return FirstOrder(name, new Momentum(rate ?? 0.01, 0.9), 64, string.Create(c, $"SGD + momentum η {rate ?? 0.01:G}, μ 0.9, batch 64"));
            case "adam": return FirstOrder(name, new Adam(rate ?? 1e-3), 64, string.Create(c, $"Adam η {rate ?? 1e-3:G}, batch 64"));
            default:
                var (method, batch) = Curvature(name);
                return new Racer(name, string.Create(c, $"{Backprop.Cli.Names.Of(method)}, batch {batch}"), batch,
                    net => new CurvatureStepper(method.Create<float>(spec, batch, s.Threads, s.Seed)));
        }
    }

    private static Racer FirstOrder(string name, GradientTransform transform, int batch, string description) =>
        new(name, description, batch, net => new FirstOrderStepper(new TrainState<float>(net, transform, batch)));

    /// <summary>The curvature methods with the settings they race with.</summary>
    private static (CurvatureMethod Method, int Batch) Curvature(string name) => name switch
    {
        // Tuned for a wall-clock race (MNIST autoencoder, one thread): gradient and preconditioner on 500 rows, Gv on 100
        // of them, CG capped at 15 iterations (Martens' preconditioner, ξ = ¾) make about 2.5 updates a second. 60 s
        // trials (docs/curvature.md): CG ≤ 8, 10, 30 or 50, Gv on 50 or 200 rows, gradient on 250–2000 rows all did worse;
        // the library defaults (Gv on a quarter of 1000 rows, up to 250 iterations) take 2–7 s per update there.
        "hessian-free" => (new HessianFreeOptions(CurvatureFraction: 0.2, Solver: new ConjugateGradientOptions(MaxIterations: 15)), 500),
        "natural" => (new NaturalGradientOptions(), 256),
        "kfac" => (new KFacOptions(), 64),
        "adahessian" => (new AdaHessianOptions(), 64),
        _ => throw new UsageException($"unknown optimizer '{name}' (known: {string.Join(", ", Names)})"),
    };

    private sealed class FirstOrderStepper(TrainState<float> state) : IStepper
    {
        public float Step(Network<float> net, ReadOnlySpan<float> x, ReadOnlySpan<float> y) => Trainer.Step(net, x, y, state);

        public void Dispose() => state.Dispose();
    }

    private sealed class CurvatureStepper(ICurvatureOptimizer<float> optimizer) : IStepper
    {
        public float Step(Network<float> net, ReadOnlySpan<float> x, ReadOnlySpan<float> y) => optimizer.Update(net.Parameters, x, y);

        public void Dispose() => optimizer.Dispose();
    }
}
