using Backprop.Functional.Tests.Arbitraries;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Properties;

/// <summary>The backpropagation equations against finite differences and naive loops, in double, on random
/// networks of depth 1–4 and width 1–16 with every activation and every loss that fits.</summary>
/// <remarks>Finite differences use the five-point stencil with h = 10⁻³·max(1, |v|) (truncation O(h⁴) ≈ 10⁻¹²).
/// Errors are relative, |a − b| / max(|a|, |b|, 10⁻⁴): below 10⁻⁴ in magnitude a derivative is held to an absolute
/// 10⁻¹⁰, the stencil's own error: its truncation h⁴·|f⁽⁵⁾|/30 reaches 10⁻¹¹ through GELU/Softplus chains into a wide
/// softmax (seen: 1.45·10⁻¹¹ on a derivative of 1.9·10⁻⁶, which a 10⁻⁵ floor failed about one run in ten). A case whose stencil crosses a ReLU kink has no derivative there and
/// is discarded.</remarks>
public class BackpropProperties
{
    private const double Tolerance = 1e-6, Floor = 1e-4;

    [Property(MaxTest = 200, Arbitrary = [typeof(NetArbitraries)])]
    public Property OutputError_equals_finite_difference_of_C_wrt_zL(NetCase c)
    {
        using var net = c.Network();
        using var ws = net.CreateWorkspace(c.Batch);
        using var g = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        net.ValueAndGradient(x, y, ws, g.Span);
        int last = c.Spec.Layers.Count - 1;
        double[] delta = ws.Delta(last, c.Batch).ToArray();
        var fd = Oracles.DcDz(c, net, x, y, ws, last);
        return Check(fd, delta, "δᴸ").When(fd is not null);
    }

    [Property(MaxTest = 200, Arbitrary = [typeof(NetArbitraries)])]
    public Property HiddenError_equals_finite_difference_of_C_wrt_z_for_every_hidden_layer(NetCase c)
    {
        using var net = c.Network();
        using var ws = net.CreateWorkspace(c.Batch);
        using var g = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        net.ValueAndGradient(x, y, ws, g.Span);
        bool crossed = false;
        var failures = new List<string>();
        for (int l = 0; l < c.Spec.Layers.Count - 1; l++)
        {
            double[] delta = ws.Delta(l, c.Batch).ToArray();
            var fd = Oracles.DcDz(c, net, x, y, ws, l);
            if (fd is null) { crossed = true; break; }
            var (err, at) = Oracles.MaxError(fd, delta, Floor);
            if (!(err <= Tolerance)) failures.Add($"δ of layer {l}: relative error {err:E2} at {at} (backprop {delta[at]:G10}, finite difference {fd[at]:G10})");
        }
        return (failures.Count == 0).Label(string.Join("; ", failures)).When(!crossed);
    }

    [Property(MaxTest = 200, Arbitrary = [typeof(NetArbitraries)])]
    public Property Weight_and_bias_gradients_equal_finite_differences_and_delta_identities(NetCase c)
    {
        using var net = c.Network();
        using var ws = net.CreateWorkspace(c.Batch);
        using var g = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        net.ValueAndGradient(x, y, ws, g.Span);
        double[] gradient = g.Span.ToArray();

        // ∂C/∂bˡ = Σ_rows δˡ and ∂C/∂Wˡ = Σ_rows δˡ(aˡ⁻¹)ᵀ, by naive loops over the workspace.
        var identity = new double[gradient.Length];
        var magnitude = new double[gradient.Length];   // Σ|terms|: the scale of the rounding of any summation order
        var layout = net.Layout;
        for (int l = 0; l < c.Spec.Layers.Count; l++)
        {
            int nIn = c.Widths[l], nOut = c.Widths[l + 1];
            var delta = ws.Delta(l, c.Batch);
            ReadOnlySpan<double> aPrev = l == 0 ? x : ws.A(l - 1, c.Batch);
            var w = layout.Weight(l).Of(identity.AsSpan());
            var b = layout.Bias(l).Of(identity.AsSpan());
            var wm = layout.Weight(l).Of(magnitude.AsSpan());
            var bm = layout.Bias(l).Of(magnitude.AsSpan());
            for (int r = 0; r < c.Batch; r++)
                for (int j = 0; j < nOut; j++)
                {
                    b[j] += delta[r * nOut + j];
                    bm[j] += Math.Abs(delta[r * nOut + j]);
                    for (int k = 0; k < nIn; k++)
                    {
                        w[j * nIn + k] += delta[r * nOut + j] * aPrev[r * nIn + k];
                        wm[j * nIn + k] += Math.Abs(delta[r * nOut + j] * aPrev[r * nIn + k]);
                    }
                }
        }
        double idErr = 0;   // |g − identity| in units of Σ|terms|; any summation order stays within a few ε of it
        int idAt = -1;
        for (int i = 0; i < gradient.Length; i++)
        {
            double e = Math.Abs(gradient[i] - identity[i]) / Math.Max(magnitude[i], 1e-300);
            if (e > idErr || double.IsNaN(e)) { idErr = double.IsNaN(e) ? double.PositiveInfinity : e; idAt = i; }
        }

        var fd = Oracles.DcDtheta(net, x, y, ws, c.Batch);
        if (fd is null) return true.When(false);
        var (fdErr, fdAt) = Oracles.MaxError(fd, gradient, Floor);
        return (idErr <= 1e-14).Label($"δ identities: error {idErr:E2}·Σ|terms| at {(idAt < 0 ? "-" : layout.SlotOf(idAt).Name)}")
            .And((fdErr <= Tolerance).Label(
                $"finite differences: relative error {fdErr:E2} at {(fdAt < 0 ? "-" : $"{layout.SlotOf(fdAt).Name}[{fdAt - layout.SlotOf(fdAt).Offset}] (backprop {gradient[fdAt]:G10}, finite difference {fd[fdAt]:G10})")}"));
    }

    [Property(MaxTest = 200, Arbitrary = [typeof(NetArbitraries)])]
    public Property Batch_gradient_equals_mean_of_per_sample_gradients(NetCase c)
    {
        using var net = c.Network();
        using var ws = net.CreateWorkspace(c.Batch);
        using var g = net.CreateGradient();
        using var gi = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        double cost = net.ValueAndGradient(x, y, ws, g.Span);
        var mean = new double[g.Span.Length];
        double meanCost = 0;
        for (int r = 0; r < c.Batch; r++)
        {
            meanCost += net.ValueAndGradient(x.AsSpan(r * c.Inputs, c.Inputs), y.AsSpan(r * c.Outputs, c.Outputs), ws, gi.Span) / c.Batch;
            for (int i = 0; i < mean.Length; i++) mean[i] += gi.Span[i] / c.Batch;
        }
        // Relative per element, but an element far below the largest (terms that nearly cancel) is judged against a
        // floor of 10⁻⁶ of the largest: the two sums run in different orders, so their rounding is ε·Σ|terms|, not
        // ε·|sum| (a 7-1-3 tanh case reached 1.7·10⁻¹⁰ on the 128-bit path with a fixed floor of 10⁻¹²).
        double floor = Math.Max(1e-12, 1e-6 * mean.Max(Math.Abs));
        var (err, at) = Oracles.MaxError(mean, g.Span.ToArray(), floor);
        return (err <= 1e-10).Label($"gradient: relative error {err:E2} at {at}")
            .And((Oracles.RelativeError(meanCost, cost, 1e-12) <= 1e-12).Label($"cost {cost:G17} vs mean {meanCost:G17}"));
    }

    private static Property Check(double[]? fd, double[] backprop, string what)
    {
        if (fd is null) return true.ToProperty();
        var (err, at) = Oracles.MaxError(fd, backprop, Floor);
        return (err <= Tolerance).Label($"{what}: relative error {err:E2} at {at} (backprop {backprop[Math.Max(at, 0)]:G10}, finite difference {fd[Math.Max(at, 0)]:G10})");
    }
}
