using System.Numerics;

namespace Backprop.Functional.Generators.Tests;

/// <summary>The scales against which a one-sample generated result is held when its loops sum in another order than
/// the shared GEMM (<see cref="ParityProperties.Near{T}"/>): a sum's rounding error is a multiple of u·Σ|terms|, not of
/// the sum, so where a sum cancels its own size is the wrong yardstick. 16-16(Tanh)-1 with a quadratic cost failed
/// three times against ‖r‖∞ alone (generated and runtime 1.1·10⁻⁸ apart on a gradient whose largest element was
/// 5.2·10⁻⁴, in float): aᴸ ≈ y, so δᴸ = aᴸ − y kept only the rounding of aᴸ, and that became the whole gradient.</summary>
internal static class RoundingScale
{
    /// <summary>‖aᴸ‖∞ of the network with every parameter made |θ|, run on |x| (the runtime Predictor): for odd
    /// increasing activations (tanh, identity) and ReLU each layer's value bounds Σ|wᵢaᵢ| + |b| of the original; for
    /// bounded outputs (sigmoid, softmax) it is their scale.</summary>
    internal static double Output<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var abs = new T[theta.Length];
        for (int i = 0; i < abs.Length; i++) abs[i] = T.Abs(theta[i]);
        var absX = new T[x.Length];
        for (int i = 0; i < absX.Length; i++) absX[i] = T.Abs(x[i]);
        using var network = Network<T>.FromParameters(spec, abs);
        using var predictor = network.CreatePredictor();
        double scale = 0;
        foreach (var v in predictor.Predict(absX)) scale = Math.Max(scale, Math.Abs(double.CreateChecked(v)));
        return scale;
    }

    /// <summary>The scale of one sample's ∂C/∂θ = (∂aᴸ/∂θ)ᵀ·δᴸ, δᴸ a multiple of aᴸ − y for every output/loss pair
    /// (σ′ or 1/(a(1 − a)) multiplies it, and cancels from the ratio below). aᴸ carries an absolute rounding error of
    /// order u·(the output's term scale), so aᴸ − y carries u·(term scale + ‖y‖∞), and relative to the vector ∂C/∂θ
    /// that error is amplified by (term scale + ‖y‖∞)/‖aᴸ − y‖∞ where aᴸ − y cancels: the scale is ‖r‖∞ times that
    /// factor, never less than ‖r‖∞ (exact for one output; the largest output's ratio for several). Where aᴸ = y
    /// exactly the gradient is all rounding and the scale is infinite.</summary>
    internal static double Gradient<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> a, ReadOnlySpan<T> runtimeGradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Length != y.Length) throw new ArgumentException($"aᴸ has {a.Length} values but y has {y.Length}");
        double r = 0, yMax = 0, delta = 0;
        foreach (var v in runtimeGradient) r = Math.Max(r, Math.Abs(double.CreateChecked(v)));
        for (int j = 0; j < a.Length; j++)
        {
            double aj = double.CreateChecked(a[j]), yj = double.CreateChecked(y[j]);
            yMax = Math.Max(yMax, Math.Abs(yj));
            delta = Math.Max(delta, Math.Abs(aj - yj));
        }
        double terms = Output(spec, theta, x) + yMax;
        return r * Math.Max(1, terms / delta);
    }
}
