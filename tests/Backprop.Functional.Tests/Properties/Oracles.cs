using Backprop.Functional.Tests.Arbitraries;

namespace Backprop.Functional.Tests.Properties;

/// <summary>Independent references the properties compare backprop with: finite differences of the cost and
/// naive loops.</summary>
internal static class Oracles
{
    /// <summary>Relative error |a − b| / max(|a|, |b|, floor).</summary>
    public static double RelativeError(double a, double b, double floor) =>
        Math.Abs(a - b) / Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), floor);

    /// <summary>Five-point stencil for f′(0), f evaluated at ±h, ±2h.</summary>
    public static double FivePoint(Func<double, double> f, double h) =>
        (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h);

    /// <summary>Mean cost of the batch from the zᴸ and aᴸ in the workspace (the network's own cost function).</summary>
    public static double Cost(NetworkSpec spec, Workspace<double> ws, ReadOnlySpan<double> y, int rows) =>
        Equations.Cost(spec, y, ws, rows) / rows;

    /// <summary>The side of the kink of every ReLU-like unit: finite differences are only valid when no
    /// evaluation of the stencil crosses one.</summary>
    public static string KinkPattern(NetworkSpec spec, Workspace<double> ws, int rows)
    {
        var sb = new System.Text.StringBuilder();
        for (int l = 0; l < spec.Layers.Count; l++)
            if (spec.Layers[l] is Dense { Activation: ActivationKind.ReLU or ActivationKind.LeakyReLU })
                foreach (double z in ws.Z(l, rows)) sb.Append(z > 0 ? '+' : '-');
        return sb.ToString();
    }

    /// <summary>∂C/∂zˡ by finite differences: zˡ[i] is moved, aˡ and every later layer recomputed, C re-evaluated.
    /// Returns null when a stencil point crossed a ReLU kink (the derivative is not defined there).</summary>
    public static double[]? DcDz(NetCase c, Network<double> net, double[] x, double[] y, Workspace<double> ws, int layer)
    {
        var spec = net.Spec;
        int rows = c.Batch;
        net.Forward(x, ws);
        string pattern = KinkPattern(spec, ws, rows);
        double[] z0 = ws.Z(layer, rows).ToArray();
        var result = new double[z0.Length];
        bool crossed = false;
        for (int i = 0; i < z0.Length; i++)
        {
            double h = 1e-3 * Math.Max(1, Math.Abs(z0[i]));
            result[i] = FivePoint(t =>
            {
                z0.CopyTo(ws.Z(layer, rows));
                ws.Z(layer, rows)[i] = z0[i] + t;
                Equations.Activate(spec, ws, layer, rows);
                Equations.ForwardFrom(spec, net.Parameters, x, ws, layer + 1, rows);
                crossed |= AfterLayer(spec, layer, ws, rows, pattern);
                return Cost(spec, ws, y, rows);
            }, h);
        }
        net.Forward(x, ws);
        return crossed ? null : result;
    }

    // Kinks of layers before `layer` cannot move when only zˡ moves; count only those at or after it.
    private static bool AfterLayer(NetworkSpec spec, int layer, Workspace<double> ws, int rows, string pattern)
    {
        var now = KinkPattern(spec, ws, rows);
        int offset = 0;
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            if (spec.Layers[l] is not Dense { Activation: ActivationKind.ReLU or ActivationKind.LeakyReLU }) continue;
            int n = rows * spec.Layers[l].Outputs;
            if (l >= layer && !now.AsSpan(offset, n).SequenceEqual(pattern.AsSpan(offset, n))) return true;
            offset += n;
        }
        return false;
    }

    /// <summary>∂C/∂θ by finite differences over every parameter; null when a stencil point crossed a kink.</summary>
    public static double[]? DcDtheta(Network<double> net, double[] x, double[] y, Workspace<double> ws, int rows)
    {
        var theta = net.Parameters;
        net.Forward(x, ws);
        string pattern = KinkPattern(net.Spec, ws, rows);
        var result = new double[theta.Length];
        bool crossed = false;
        for (int i = 0; i < result.Length; i++)
        {
            double saved = net.Parameters[i];
            double h = 1e-3 * Math.Max(1, Math.Abs(saved));
            result[i] = FivePoint(t =>
            {
                net.Parameters[i] = saved + t;
                net.Forward(x, ws);
                crossed |= KinkPattern(net.Spec, ws, rows) != pattern;
                return Cost(net.Spec, ws, y, rows);
            }, h);
            net.Parameters[i] = saved;
        }
        net.Forward(x, ws);
        return crossed ? null : result;
    }

    /// <summary>Largest relative error between two vectors, and where.</summary>
    public static (double Error, int Index) MaxError(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double floor)
    {
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = RelativeError(expected[i], actual[i], floor);
            if (e > worst || double.IsNaN(e)) { worst = double.IsNaN(e) ? double.PositiveInfinity : e; at = i; }
        }
        return (worst, at);
    }
}
