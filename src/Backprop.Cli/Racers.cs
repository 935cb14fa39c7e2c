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

    public static Racer Create(string name, NetworkSpec spec, OptimizerRace.RaceSettings s)
    {
        var c = CultureInfo.InvariantCulture;
        switch (name)
        {
            case "sgd": return FirstOrder(name, new Sgd(0.1), 64, "SGD η 0.1, batch 64");
            case "momentum": return FirstOrder(name, new Momentum(0.01, 0.9), 64, "SGD + momentum η 0.01, μ 0.9, batch 64");
            case "adam": return FirstOrder(name, new Adam(1e-3), 64, "Adam η 10⁻³, batch 64");
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
        // Tuned for a wall-clock race (MNIST autoencoder, 2-core CPU): a smaller batch, Gv on a tenth of it and CG capped
        // at 30 iterations make about 2 updates a second; the library defaults (Gv on a quarter of 1000 rows, up to 250
        // iterations) take 2–7 s per update there.
        "hessian-free" => (new HessianFreeOptions(CurvatureFraction: 0.1, Solver: new ConjugateGradientOptions(MaxIterations: 30)), 500),
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
