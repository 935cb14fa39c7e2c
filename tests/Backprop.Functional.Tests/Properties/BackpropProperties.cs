using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Properties;

/// <summary>The backpropagation equations against finite differences and naive loops, in double, on random
/// networks of depth 1–4 and width 1–16 with every activation and every loss that fits: through the property-test kit
/// (Backprop.Functional.Testing) users get, so the kit is what holds the library.</summary>
/// <remarks>Finite differences use the five-point stencil with h = 10⁻³·max(1, |v|) (truncation O(h⁴) ≈ 10⁻¹²).
/// Errors are relative, |a − b| / max(|a|, |b|, 10⁻⁴): below 10⁻⁴ in magnitude a derivative is held to an absolute
/// 10⁻¹⁰, the stencil's own error: its truncation h⁴·|f⁽⁵⁾|/30 reaches 10⁻¹¹ through GELU/Softplus chains into a wide
/// softmax (seen: 1.45·10⁻¹¹ on a derivative of 1.9·10⁻⁶, which a 10⁻⁵ floor failed about one run in ten). A case whose stencil crosses a ReLU kink has no derivative there and
/// is discarded.</remarks>
public class BackpropProperties
{
    /// <summary>∂C/∂θ of one backward pass against five-point finite differences of C, every parameter.</summary>
    [Property(MaxTest = 200, Arbitrary = [typeof(NetArbitraries)])]
    public Property Gradient_equals_finite_differences(NetCase c) => NetworkProperties.GradientEqualsFiniteDifferences(c);

    /// <summary>BP1 (δᴸ = ∂C/∂zᴸ), BP2 (every hidden δˡ = ∂C/∂zˡ) against finite differences of C in z, BP3 and BP4
    /// against their sums over the batch.</summary>
    [Property(MaxTest = 200, Arbitrary = [typeof(NetArbitraries)])]
    public Property Delta_identities_BP1_to_BP4_hold(NetCase c) => NetworkProperties.DeltaIdentities(c);

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
}
