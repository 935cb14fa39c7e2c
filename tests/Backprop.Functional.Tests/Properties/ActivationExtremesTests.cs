using Xunit;

namespace Backprop.Functional.Tests.Properties;

/// <summary>Activations at the extremes against closed forms, in float and double, scalar and span paths.</summary>
public sealed class ActivationExtremesTests
{
    /// <summary>GELU (tanh form) is z for large z and 0 for large −z, with derivative 1 and 0. Its derivative
    /// multiplied 1 − tanh² = 0 by 1 + 3kz², which overflows past |z| ≈ 10¹⁹ in float (10¹⁵⁴ in double): 0·∞ = NaN.</summary>
    [Theory]
    [InlineData(1e20, 1.0)]
    [InlineData(-1e20, 0.0)]
    [InlineData(3e38, 1.0)]
    [InlineData(-3e38, 0.0)]
    [InlineData(50, 1.0)]
    [InlineData(-50, 0.0)]
    public void GELU_derivative_at_large_z_float(double zd, double expected)
    {
        float z = (float)zd;
        float a = GELU.Value(z);
        Assert.Equal((float)expected, GELU.Derivative(z, a));
        float[] zs = [.. Enumerable.Repeat(z, 19)], aa = new float[19], d = new float[19];
        GELU.Apply<float>(zs, aa, 19);
        GELU.Derivative<float>(zs, aa, d);
        Assert.All(d, v => Assert.Equal((float)expected, v));
        Assert.All(aa, v => Assert.Equal(expected == 1 ? z : 0f, v));
    }

    [Theory]
    [InlineData(1e200, 1.0)]
    [InlineData(-1e200, 0.0)]
    [InlineData(1e300, 1.0)]
    public void GELU_derivative_at_large_z_double(double z, double expected)
    {
        Assert.Equal(expected, GELU.Derivative(z, GELU.Value(z)));
        double[] zs = [.. Enumerable.Repeat(z, 9)], aa = new double[9], d = new double[9];
        GELU.Apply<double>(zs, aa, 9);
        GELU.Derivative<double>(zs, aa, d);
        Assert.All(d, v => Assert.Equal(expected, v));
    }
}
