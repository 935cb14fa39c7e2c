namespace Backprop.Functional.Testing;

/// <summary>Independent references the properties compare backprop with: finite differences of the cost, through the
/// library's public API only (a network's <see cref="Network{T}.Cost"/>), and relative errors.</summary>
/// <remarks>Finite differences use the five-point stencil with h = 10⁻³·max(1, |v|) (truncation O(h⁴) ≈ 10⁻¹² in
/// double). A stencil that crosses a ReLU or LeakyReLU kink measures no derivative: the oracles return null then, and the
/// properties discard the case.</remarks>
public static class Oracles
{
    /// <summary>Relative error |a − b| / max(|a|, |b|, floor).</summary>
    /// <param name="a">One value.</param>
    /// <param name="b">The other.</param>
    /// <param name="floor">Below this magnitude the error is absolute.</param>
    /// <returns>The error; NaN when either is NaN.</returns>
    public static double RelativeError(double a, double b, double floor) =>
        Math.Abs(a - b) / Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), floor);

    /// <summary>Five-point stencil for f′(0), f evaluated at ±h, ±2h.</summary>
    /// <param name="f">The function, of the displacement.</param>
    /// <param name="h">The step.</param>
    /// <returns>(−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h.</returns>
    public static double FivePoint(Func<double, double> f, double h)
    {
        ArgumentNullException.ThrowIfNull(f);
        return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h);
    }

    /// <summary>The side of the kink of every ReLU-like unit (one character per unit, <c>+</c> or <c>-</c>): finite
    /// differences are only valid when no evaluation of the stencil changes it.</summary>
    /// <param name="spec">The network.</param>
    /// <param name="ws">Its workspace after a forward pass.</param>
    /// <param name="rows">Rows of that pass.</param>
    /// <returns>The pattern.</returns>
    public static string KinkPattern(NetworkSpec spec, Workspace<double> ws, int rows)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(ws);
        var sb = new System.Text.StringBuilder();
        for (int l = 0; l < spec.Layers.Count; l++)
            if (spec.Layers[l] is Dense { Activation: ActivationKind.ReLU or ActivationKind.LeakyReLU })
                foreach (double z in ws.Z(l, rows)) sb.Append(z > 0 ? '+' : '-');
        return sb.ToString();
    }

    /// <summary>∂C/∂zˡ by finite differences, [rows × width of layer l]: for a dense layer its pre-activation zˡ, for
    /// another kind its output yˡ (what backprop's δˡ holds). Each entry is moved and the rest of the network run on
    /// it, as a network of its own: the layers after l with their θ, after an identity dense layer with layer l's σ
    /// when l is dense. Returns null when a stencil point crossed a ReLU kink (no derivative there).</summary>
    /// <param name="net">The network, at its θ.</param>
    /// <param name="x">Inputs, [rows × inputs].</param>
    /// <param name="y">Targets, [rows × outputs].</param>
    /// <param name="rows">Rows in the batch.</param>
    /// <param name="layer">The layer l.</param>
    /// <returns>The estimate, or null.</returns>
    /// <exception cref="NotSupportedException">Layer l is the last layer, not dense, and declares an output activation.</exception>
    public static double[]? DcDz(Network<double> net, double[] x, double[] y, int rows, int layer)
    {
        ArgumentNullException.ThrowIfNull(net);
        var spec = net.Spec;
        using var ws = net.CreateWorkspace(rows);
        net.Forward(x, ws);
        var here = spec.Layers[layer];
        double[] z0 = here is Dense ? ws.Z(layer, rows).ToArray() : ws.A(layer, rows).ToArray();
        using var tail = Tail(net, layer);
        using var tailWs = tail.CreateWorkspace(rows);
        tail.Forward(z0, tailWs);
        string pattern = KinkPattern(tail.Spec, tailWs, rows);
        var z = (double[])z0.Clone();
        var result = new double[z0.Length];
        bool crossed = false;
        for (int i = 0; i < z0.Length; i++)
        {
            double h = 1e-3 * Math.Max(1, Math.Abs(z0[i]));
            result[i] = FivePoint(t =>
            {
                z[i] = z0[i] + t;
                double c = tail.Cost(z, y, tailWs);
                crossed |= KinkPattern(tail.Spec, tailWs, rows) != pattern;
                return c;
            }, h);
            z[i] = z0[i];
        }
        return crossed ? null : result;
    }

    /// <summary>The network after layer l as a network of its own, reading what layer l's δ is the derivative by:
    /// zˡ for a dense layer (an identity dense layer with its σ goes first), yˡ for another kind.</summary>
    private static Network<double> Tail(Network<double> net, int layer)
    {
        var spec = net.Spec;
        var layout = spec.Layout;
        var layers = new List<Layer>();
        var here = spec.Layers[layer];
        bool identity = here is Dense || layer == spec.Layers.Count - 1;
        if (identity)
        {
            if (here is not Dense && here.OutputActivation != ActivationKind.Identity)
                throw new NotSupportedException($"layer {layer} ({here.Kind}) is last and declares output activation {here.OutputActivation}: its δ is not of its output");
            layers.Add(here is Dense d ? new Dense(d.Outputs, d.Outputs, d.Activation) : new Dense(here.Outputs, here.Outputs, ActivationKind.Identity));
        }
        for (int l = layer + 1; l < spec.Layers.Count; l++) layers.Add(spec.Layers[l]);
        var tailSpec = new NetworkSpec(layers, spec.Loss);
        var theta = new double[tailSpec.Layout.Count];
        int first = 0;
        if (identity)
        {
            var w = tailSpec.Layout.Weight(0).Of(theta.AsSpan());
            int n = here.Outputs;
            for (int j = 0; j < n; j++) w[j * n + j] = 1;   // Wz + 0 = z exactly
            first = 1;
        }
        for (int l = layer + 1; l < spec.Layers.Count; l++)
        {
            var from = layout.LayerRange(l);
            var to = tailSpec.Layout.LayerRange(l - layer - 1 + first);
            ((ReadOnlySpan<double>)net.Parameters)[from].CopyTo(theta.AsSpan(to));
        }
        return Network<double>.FromParameters(tailSpec, theta);
    }

    /// <summary>∂C/∂θ by finite differences over every parameter; null when a stencil point crossed a kink.</summary>
    /// <param name="net">The network; its θ is moved one entry at a time and restored.</param>
    /// <param name="x">Inputs, [rows × inputs].</param>
    /// <param name="y">Targets, [rows × outputs].</param>
    /// <param name="ws">A workspace of the network for at least <paramref name="rows"/> rows.</param>
    /// <param name="rows">Rows in the batch.</param>
    /// <returns>The estimate in the flat layout, or null.</returns>
    public static double[]? DcDtheta(Network<double> net, double[] x, double[] y, Workspace<double> ws, int rows)
    {
        ArgumentNullException.ThrowIfNull(net);
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
                double c = net.Cost(x, y, ws);
                crossed |= KinkPattern(net.Spec, ws, rows) != pattern;
                return c;
            }, h);
            net.Parameters[i] = saved;
        }
        net.Forward(x, ws);
        return crossed ? null : result;
    }

    /// <summary>Largest relative error between two vectors, and where (−1 when both are empty or equal to 0 error).
    /// A NaN counts as an infinite error.</summary>
    /// <param name="expected">One vector.</param>
    /// <param name="actual">The other, as long.</param>
    /// <param name="floor">Below this magnitude the error is absolute.</param>
    /// <returns>The error and its index.</returns>
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
