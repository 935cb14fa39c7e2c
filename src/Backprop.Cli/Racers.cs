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
        var (bare, settings) = Split(name);
        if (!Names.Contains(bare)) return false;
        if (settings is null) return true;
        if (bare == "hessian-free") return TryParseHessianFree(settings, out _);
        return FirstOrderNames.Contains(bare) && Rate(settings) is > 0 and var r && double.IsFinite(r);
    }

    private static readonly string[] FirstOrderNames = ["sgd", "momentum", "adam"];

    private static (string Name, string? Settings) Split(string name)
    {
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (name, null) : (name[..colon], name[(colon + 1)..]);
    }

    private static double Rate(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double rate) ? rate : double.NaN;

    /// <summary>Hessian-free's race settings <c>B/C/K</c> or <c>B/C/K/K0/γ</c>, then optionally <c>/held=H</c>,
    /// <c>/floor=λ</c>, <c>/damping=λ₀</c> and <c>/precond=kfac|diagonal</c>: the gradient on B rows, Gv on the first C of
    /// them, CG at most K iterations, or a cap growing from K0 by γ per update up to K; H more rows per batch held out for
    /// backtracking, ρ and the line search (without them these use the B rows); λ never below the floor; the first λ
    /// (default 1); CG's preconditioner (default diagonal, Martens'; kfac: <see cref="HessianFreePreconditioner.KFac"/>).</summary>
    internal sealed record HessianFreeRace(int Batch, int CurvatureRows, int MaxIterations, int InitialIterations = 0, double Growth = 1,
        int HeldOut = 0, double Floor = 0, double Damping = 1, HessianFreePreconditioner Preconditioner = HessianFreePreconditioner.Diagonal,
        int PreconditionerRows = 0);

    /// <summary>The settings syntax <see cref="TryParseHessianFree"/> takes, for error messages.</summary>
    internal const string HessianFreeSyntax = "hessian-free:B/C/K or B/C/K/K0/γ with C ≤ B, then optionally /held=H, /floor=λ, /damping=λ₀, /precond=kfac|diagonal and /krows=R";

    internal static bool TryParseHessianFree(string text, out HessianFreeRace race)
    {
        race = new HessianFreeRace(0, 0, 0);
        var all = text.Split('/');
        int numeric = 0;
        while (numeric < all.Length && !all[numeric].Contains('=', StringComparison.Ordinal)) numeric++;
        int held = 0, krows = 0;
        double floor = 0, damping = 0;
        HessianFreePreconditioner? precond = null;
        for (int i = numeric; i < all.Length; i++)
        {
            string[] kv = all[i].Split('=');
            if (kv.Length != 2) return false;
            if (kv[0] == "held" && held == 0 && int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out held) && held is >= 1 and <= 1_000_000) continue;
            if (kv[0] == "floor" && floor == 0 && double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out floor) && floor > 0 && double.IsFinite(floor)) continue;
            if (kv[0] == "damping" && damping == 0 && double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out damping) && damping > 0 && double.IsFinite(damping)) continue;
            if (kv[0] == "krows" && krows == 0 && int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out krows) && krows is >= 1 and <= 1_000_000) continue;
            if (kv[0] == "precond" && precond is null && kv[1] is "kfac" or "diagonal")
            {
                precond = kv[1] == "kfac" ? HessianFreePreconditioner.KFac : HessianFreePreconditioner.Diagonal;
                continue;
            }
            return false;
        }
        var parts = all[..numeric];
        if (parts.Length is not (3 or 5)) return false;
        var w = new int[Math.Min(parts.Length, 4)];
        for (int i = 0; i < w.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out w[i]) || w[i] < 1 || w[i] > 1_000_000) return false;
        double growth = 1;
        if (parts.Length == 5 && !(double.TryParse(parts[4], NumberStyles.Float, CultureInfo.InvariantCulture, out growth) && growth >= 1 && growth < 100))
            return false;
        if (w[1] > w[0] || (w.Length == 4 && w[3] > w[2])) return false;
        race = new HessianFreeRace(w[0], w[1], w[2], w.Length == 4 ? w[3] : 0, growth, held, floor, damping == 0 ? 1 : damping,
            precond ?? HessianFreePreconditioner.Diagonal, krows);
        return true;
    }

    public static Racer Create(string name, NetworkSpec spec, OptimizerRace.RaceSettings s)
    {
        var c = CultureInfo.InvariantCulture;
        var (bare, settings) = Split(name);
        double? rate = settings is null ? null : Rate(settings);
        if (bare == "hessian-free")
        {
            // Tuned for a wall-clock race (MNIST autoencoder, one thread): gradient and preconditioner on 500 rows, Gv on
            // 100 of them, CG capped at 15 iterations make about 2.5 updates a second. 60 s and 90 s screens
            // (docs/curvature.md): other caps, Gv on 50 or 200 rows, gradients on 250–2000 rows and a growing cap did worse;
            // the library defaults (Gv on a quarter of 1000 rows, up to 250 iterations) take 2–7 s per update there.
            var hf = new HessianFreeRace(500, 100, 15);
            if (settings is not null && !TryParseHessianFree(settings, out hf))
                throw new UsageException($"unknown optimizer '{name}' ({HessianFreeSyntax})");
            return HessianFree(name, spec, s, hf);
        }
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

    private static Racer HessianFree(string name, NetworkSpec spec, OptimizerRace.RaceSettings s, HessianFreeRace r)
    {
        int rows = r.Batch + r.HeldOut;
        var method = Options(r);
        var c = CultureInfo.InvariantCulture;
        string cg = r.InitialIterations == 0
            ? string.Create(c, $"CG ≤ {r.MaxIterations}")
            : string.Create(c, $"CG ≤ ⌈{r.InitialIterations}·{r.Growth:G}ᵏ⌉ at update k, at most {r.MaxIterations}");
        string held = r.HeldOut == 0 ? "" : string.Create(c, $", backtracking, ρ and line search on {r.HeldOut} held-out rows");
        string floor = r.Floor == 0 ? "" : string.Create(c, $", λ ≥ {r.Floor:G}");
        string damping = r.Damping == 1 ? "" : string.Create(c, $", λ₀ {r.Damping:G}");
        string precond = r.Preconditioner != HessianFreePreconditioner.KFac ? "preconditioned"
            : r.PreconditionerRows == 0 ? "K-FAC-preconditioned" : string.Create(c, $"K-FAC-preconditioned (factors on {r.PreconditionerRows} rows)");
        return new Racer(name, string.Create(c, $"Hessian-free, gradient on {r.Batch} rows, Gv on {r.CurvatureRows}, {cg}, {precond}{held}{floor}{damping}"),
            rows, net => new CurvatureStepper(method.Create<float>(spec, rows, s.Threads, s.Seed)));
    }

    /// <summary>The library options a Hessian-free race entry runs with.</summary>
    internal static HessianFreeOptions Options(HessianFreeRace r)
    {
        int rows = r.Batch + r.HeldOut;
        return new HessianFreeOptions(CurvatureFraction: (double)r.CurvatureRows / r.Batch,
            Solver: new ConjugateGradientOptions(MaxIterations: r.MaxIterations), InitialIterations: r.InitialIterations, IterationGrowth: r.Growth,
            HeldOutFraction: (double)r.HeldOut / rows, MinDamping: r.Floor, Damping: r.Damping, Preconditioner: r.Preconditioner,
            PreconditionerRows: r.PreconditionerRows);
    }

    private static Racer FirstOrder(string name, GradientTransform transform, int batch, string description) =>
        new(name, description, batch, net => new FirstOrderStepper(new TrainState<float>(net, transform, batch)));

    /// <summary>The curvature methods with the settings they race with.</summary>
    private static (CurvatureMethod Method, int Batch) Curvature(string name) => name switch
    {
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
