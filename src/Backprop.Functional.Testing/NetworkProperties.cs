using System.Globalization;
using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Testing;

/// <summary>Ready properties of a network's backward pass, in double, each one line in an FsCheck test:
/// <code>
/// [Property] public Property Gradient() => NetworkProperties.GradientEqualsFiniteDifferences(MyNet.Spec);
/// [Property(Arbitrary = [typeof(NetArbitraries)])] public Property Deltas(NetCase c) => NetworkProperties.DeltaIdentities(c);
/// </code>
/// A failure's label says which identity failed, where (layer, tensor, row and unit) and with which numbers.</summary>
/// <remarks>Finite differences: <see cref="Oracles"/>. Relative errors are |a − b| / max(|a|, |b|, floor): below
/// <c>floor</c> in magnitude a derivative is held to an absolute error of tolerance·floor. The defaults (10⁻⁶, 10⁻⁴)
/// hold the library's own networks of depth 1–4 and width 1–16 with every activation and loss over thousands of cases.
/// A case whose stencil crosses a ReLU kink has no derivative there and is discarded.</remarks>
public static class NetworkProperties
{
    /// <summary>Default largest relative error of a derivative against its finite difference.</summary>
    public const double Tolerance = 1e-6;

    /// <summary>Default floor of the relative error's denominator.</summary>
    public const double Floor = 1e-4;

    /// <summary>Largest error of BP3 and BP4 against their sums, in units of Σ|terms| (any summation order stays
    /// within a few ε of it).</summary>
    public const double SumTolerance = 1e-14;

    /// <summary>∂C/∂θ from one backward pass equals five-point finite differences of the cost, every parameter.</summary>
    /// <param name="c">The case.</param>
    /// <param name="tolerance">Largest relative error.</param>
    /// <param name="floor">Floor of the relative error's denominator.</param>
    /// <returns>The property; discarded when a stencil crossed a kink.</returns>
    public static Property GradientEqualsFiniteDifferences(INetCase c, double tolerance = Tolerance, double floor = Floor)
    {
        ArgumentNullException.ThrowIfNull(c);
        using var net = c.Network();
        using var ws = net.CreateWorkspace(c.Batch);
        using var g = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        net.ValueAndGradient(x, y, ws, g.Span);
        double[] gradient = g.Span.ToArray();
        var fd = Oracles.DcDtheta(net, x, y, ws, c.Batch);
        if (fd is null) return true.When(false);
        var (err, at) = Oracles.MaxError(fd, gradient, floor);
        if (err <= tolerance) return true.ToProperty();
        return false.Label(Invariant(
            $"∂C/∂θ ≠ finite differences at {Where(net.Layout, at)}: backprop {gradient[at]:G10}, finite difference {fd[at]:G10}, relative error {err:E2} > {tolerance:E0}"));
    }

    /// <summary><see cref="GradientEqualsFiniteDifferences(INetCase, double, double)"/> on your network
    /// <paramref name="spec"/>, over random θ, inputs, targets and batches of 1 to <paramref name="maxBatch"/> rows.</summary>
    /// <param name="spec">The network.</param>
    /// <param name="maxBatch">Most rows in a batch.</param>
    /// <param name="tolerance">Largest relative error.</param>
    /// <param name="floor">Floor of the relative error's denominator.</param>
    /// <returns>The property.</returns>
    public static Property GradientEqualsFiniteDifferences(NetworkSpec spec, int maxBatch = 4, double tolerance = Tolerance, double floor = Floor) =>
        Prop.ForAll(NetArbitraries.For(spec, maxBatch), c => GradientEqualsFiniteDifferences(c, tolerance, floor));

    /// <summary>The four equations, as <c>Equations/</c> states them, on every layer of one backward pass:
    /// <list type="bullet">
    /// <item>BP1, δᴸ = ∇ₐC ⊙ σ′(zᴸ): the output layer's δ equals ∂C/∂zᴸ by finite differences;</item>
    /// <item>BP2, δˡ = ((Wˡ⁺¹)ᵀδˡ⁺¹) ⊙ σ′(zˡ): every hidden dense layer's δ equals ∂C/∂zˡ by finite differences (a layer of
    /// another kind: its δ equals ∂C/∂yˡ, the derivative by its output);</item>
    /// <item>BP3, ∂C/∂bˡ = Σ_rows δˡ, and BP4, ∂C/∂Wˡ = Σ_rows δˡ(aˡ⁻¹)ᵀ: the gradient's bias and weight slots of every
    /// dense layer equal those sums, written as plain loops.</item>
    /// </list></summary>
    /// <param name="c">The case.</param>
    /// <param name="tolerance">Largest relative error of a δ against its finite difference.</param>
    /// <param name="floor">Floor of the relative error's denominator.</param>
    /// <returns>The property; when a stencil crossed a kink, BP3 and BP4 are still checked.</returns>
    public static Property DeltaIdentities(INetCase c, double tolerance = Tolerance, double floor = Floor)
    {
        ArgumentNullException.ThrowIfNull(c);
        using var net = c.Network();
        using var ws = net.CreateWorkspace(c.Batch);
        using var g = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        net.ValueAndGradient(x, y, ws, g.Span);
        var spec = net.Spec;
        int rows = c.Batch, last = spec.Layers.Count - 1;
        var failures = new List<string>();
        bool crossed = false;
        for (int l = last; l >= 0 && !crossed; l--)
        {
            double[] delta = ws.Delta(l, rows).ToArray();
            var fd = Oracles.DcDz(net, x, y, rows, l);
            if (fd is null) { crossed = true; break; }
            var (err, at) = Oracles.MaxError(fd, delta, floor);
            if (err <= tolerance) continue;
            var layer = spec.Layers[l];
            int width = layer.Outputs;
            string what = layer is not Dense ? $"δ of layer {l} ({layer.Kind}) = ∂C/∂yˡ"
                : l == last ? "BP1 δᴸ = ∇ₐC ⊙ σ′(zᴸ)" : "BP2 δˡ = ((Wˡ⁺¹)ᵀδˡ⁺¹) ⊙ σ′(zˡ)";
            failures.Add(Invariant(
                $"{what} fails at layer {l} ({Describe(layer)}), row {at / width}, unit {at % width}: backprop δ {delta[at]:G10}, finite difference of C {fd[at]:G10}, relative error {err:E2} > {tolerance:E0}"));
        }
        SumIdentities(net, ws, x, g.Span.ToArray(), rows, failures);
        var property = (failures.Count == 0).Label(string.Join(Environment.NewLine, failures));
        return crossed && failures.Count == 0 ? property.Label("finite differences crossed a ReLU kink: BP1/BP2 not checked") : property;
    }

    /// <summary><see cref="DeltaIdentities(INetCase, double, double)"/> on your network <paramref name="spec"/>, over
    /// random θ, inputs, targets and batches of 1 to <paramref name="maxBatch"/> rows.</summary>
    /// <param name="spec">The network.</param>
    /// <param name="maxBatch">Most rows in a batch.</param>
    /// <param name="tolerance">Largest relative error of a δ against its finite difference.</param>
    /// <param name="floor">Floor of the relative error's denominator.</param>
    /// <returns>The property.</returns>
    public static Property DeltaIdentities(NetworkSpec spec, int maxBatch = 4, double tolerance = Tolerance, double floor = Floor) =>
        Prop.ForAll(NetArbitraries.For(spec, maxBatch), c => DeltaIdentities(c, tolerance, floor));

    /// <summary>BP3 and BP4 by naive loops over the workspace, judged in units of Σ|terms|.</summary>
    private static void SumIdentities(Network<double> net, Workspace<double> ws, double[] x, double[] gradient, int rows, List<string> failures)
    {
        var spec = net.Spec;
        var layout = net.Layout;
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            if (spec.Layers[l] is not Dense d) continue;
            int nIn = d.Inputs, nOut = d.Outputs;
            ReadOnlySpan<double> delta = ws.Delta(l, rows);
            ReadOnlySpan<double> aPrev = l == 0 ? x : ws.A(l - 1, rows);
            var wSlot = layout.Weight(l);
            var bSlot = layout.Bias(l);
            var w = new double[wSlot.Length];
            var wm = new double[wSlot.Length];   // Σ|terms|: the scale of the rounding of any summation order
            var b = new double[bSlot.Length];
            var bm = new double[bSlot.Length];
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < nOut; j++)
                {
                    double dj = delta[r * nOut + j];
                    b[j] += dj;
                    bm[j] += Math.Abs(dj);
                    for (int k = 0; k < nIn; k++)
                    {
                        w[j * nIn + k] += dj * aPrev[r * nIn + k];
                        wm[j * nIn + k] += Math.Abs(dj * aPrev[r * nIn + k]);
                    }
                }
            Sum("BP3 ∂C/∂bˡ = Σ_rows δˡ", l, bSlot, bSlot.Of<double>(gradient), b, bm, failures);
            Sum("BP4 ∂C/∂Wˡ = Σ_rows δˡ(aˡ⁻¹)ᵀ", l, wSlot, wSlot.Of<double>(gradient), w, wm, failures);
        }
    }

    private static void Sum(string what, int layer, Slot slot, ReadOnlySpan<double> gradient, double[] sum, double[] magnitude, List<string> failures)
    {
        double worst = 0;
        int at = -1;
        for (int i = 0; i < sum.Length; i++)
        {
            double e = Math.Abs(gradient[i] - sum[i]) / Math.Max(magnitude[i], 1e-300);
            if (e > worst || double.IsNaN(e)) { worst = double.IsNaN(e) ? double.PositiveInfinity : e; at = i; }
        }
        if (worst <= SumTolerance) return;
        failures.Add(Invariant(
            $"{what} fails at layer {layer}, {slot.Name}{Index(slot, at)}: gradient {gradient[at]:G17}, sum {sum[at]:G17}, difference {worst:E2}·Σ|terms| > {SumTolerance:E0}"));
    }

    private static string Describe(Layer layer) => layer is Dense d ? Invariant($"{d.Inputs}-{d.Outputs}({d.Activation})") : layer.Kind;

    /// <summary>A flat index as tensor name and element: <c>layers.1.weight[2, 0]</c>.</summary>
    internal static string Where(ParameterLayout layout, int index)
    {
        var slot = layout.SlotOf(index);
        return slot.Name + Index(slot, index - slot.Offset);
    }

    private static string Index(Slot slot, int k) =>
        slot.Rank == 1 ? Invariant($"[{k}]") : Invariant($"[{k / slot.Columns}, {k % slot.Columns}]");

    internal static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
