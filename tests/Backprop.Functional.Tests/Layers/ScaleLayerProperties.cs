using Backprop.Functional.Tests.Arbitraries;
using Backprop.Functional.Tests.Properties;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Layers;

/// <summary>A random dense network with a <see cref="Scale"/> layer inserted before layer <see cref="Position"/> (0: first;
/// the depth: last, then with the quadratic cost), and scales drawn from <see cref="ScaleSeed"/>.</summary>
public sealed record ScaleCase(NetCase Net, int Position, int ScaleSeed)
{
    public int Depth => Net.Widths.Length - 1;
    public int ScaleLayer => Position;
    public NetCase Dense => Position == Depth ? Net with { Loss = LossKind.Quadratic } : Net;

    public NetworkSpec Spec
    {
        get
        {
            var layers = new List<Layer>();
            for (int l = 0; l < Depth; l++)
                layers.Add(new Dense(Net.Widths[l], Net.Widths[l + 1], l == Depth - 1 ? Net.Output : Net.Hidden[l]));
            layers.Insert(Position, new Scale(Net.Widths[Position]));
            return new NetworkSpec(layers, Dense.Loss);
        }
    }

    /// <summary>The network, Xavier-initialised, with its scales drawn from ±U(0.5, 1.5).</summary>
    public Network<double> Network()
    {
        var net = Network<double>.Create(Spec, Net.Seed, Initialization.Xavier);
        var rng = new SeededRandom(ScaleSeed);
        var s = net.Layout.SlotsOf(ScaleLayer)[0].Of(net.Parameters);
        for (int i = 0; i < s.Length; i++) s[i] = (rng.NextDouble() < 0.5 ? -1 : 1) * (0.5 + rng.NextDouble());
        return net;
    }

    public override string ToString() => $"{Spec}, batch {Net.Batch}, seed {Net.Seed}, scale seed {ScaleSeed}";
}

public static class ScaleArbitraries
{
    public static Arbitrary<ScaleCase> ScaleCase() =>
        (from net in NetArbitraries.Gen(maxDepth: 3, maxWidth: 8)
         from position in Gen.Choose(0, net.Widths.Length - 1)
         from seed in Gen.Choose(0, 1_000_000)
         select new ScaleCase(net, position, seed)).ToArbitrary();
}

/// <summary>The layer protocol proved with a kind the core has never heard of: <see cref="Scale"/> (test project only)
/// first, between and last in random dense networks passes the properties the dense network passes — ∂C/∂θ and every
/// layer's δ (∂C/∂z for dense layers, ∂C/∂y for the scale) against five-point finite differences, in double.</summary>
public class ScaleLayerProperties
{
    private const double Tolerance = 1e-6, Floor = 1e-4;

    [Property(MaxTest = 150, Arbitrary = [typeof(ScaleArbitraries)])]
    public Property Gradient_equals_finite_differences(ScaleCase c)
    {
        using var net = c.Network();
        int rows = c.Net.Batch;
        using var ws = net.CreateWorkspace(rows);
        using var g = net.CreateGradient();
        double[] x = c.Dense.X(), y = c.Dense.Y();
        net.ValueAndGradient(x, y, ws, g.Span);
        double[] gradient = g.Span.ToArray();
        var fd = Oracles.DcDtheta(net, x, y, ws, rows);
        if (fd is null) return true.When(false);
        var (err, at) = Oracles.MaxError(fd, gradient, Floor);
        return (err <= Tolerance).Label($"∂C/∂θ: relative error {err:E2} at {at} ({(at >= 0 ? net.Layout.SlotOf(at).Name : "")}): backprop {(at >= 0 ? gradient[at] : 0):G10}, finite difference {(at >= 0 ? fd[at] : 0):G10}");
    }

    [Property(MaxTest = 150, Arbitrary = [typeof(ScaleArbitraries)])]
    public Property Every_layer_delta_equals_finite_differences(ScaleCase c)
    {
        using var net = c.Network();
        int rows = c.Net.Batch;
        using var ws = net.CreateWorkspace(rows);
        using var g = net.CreateGradient();
        double[] x = c.Dense.X(), y = c.Dense.Y();
        var failures = new List<string>();
        bool crossed = false;
        for (int l = 0; l < net.Spec.Layers.Count && !crossed; l++)
        {
            net.ValueAndGradient(x, y, ws, g.Span);
            double[] delta = ws.Delta(l, rows).ToArray();
            var fd = net.Spec.Layers[l] is Dense ? Oracles.DcDz(c.Dense, net, x, y, ws, l) : DcDy(net, x, y, ws, l, rows);
            if (fd is null) { crossed = true; break; }
            var (err, at) = Oracles.MaxError(fd, delta, Floor);
            if (!(err <= Tolerance)) failures.Add($"δ of layer {l} ({net.Spec.Layers[l].Kind}): relative error {err:E2} at {at}");
        }
        return (failures.Count == 0).Label(string.Join("; ", failures)).When(!crossed);
    }

    /// <summary>∂C/∂yˡ by finite differences: yˡ[i] is moved, every later layer recomputed, C re-evaluated; null when a
    /// stencil point crossed a ReLU kink.</summary>
    private static double[]? DcDy(Network<double> net, double[] x, double[] y, Workspace<double> ws, int layer, int rows)
    {
        var spec = net.Spec;
        net.Forward(x, ws);
        string pattern = Oracles.KinkPattern(spec, ws, rows);
        double[] a0 = ws.A(layer, rows).ToArray();
        var result = new double[a0.Length];
        bool crossed = false;
        for (int i = 0; i < a0.Length; i++)
        {
            double h = 1e-3 * Math.Max(1, Math.Abs(a0[i]));
            result[i] = Oracles.FivePoint(t =>
            {
                a0.CopyTo(ws.A(layer, rows));
                ws.A(layer, rows)[i] = a0[i] + t;
                Equations.ForwardFrom(spec, net.Parameters, x, ws, layer + 1, rows);
                crossed |= Oracles.KinkPattern(spec, ws, rows) != pattern;
                return Oracles.Cost(spec, ws, y, rows);
            }, h);
        }
        net.Forward(x, ws);
        return crossed ? null : result;
    }
}
