using System.Globalization;

namespace Backprop.Functional;

/// <summary>Range checks of optimizer hyper-parameters, run when an optimizer is built or copied with <c>with</c>:
/// torch.optim's ranges, and NaN or ±∞ refused as well (torch lets them through; θ is NaN after one step).</summary>
internal static class HyperParameter
{
    /// <summary>A finite number ≥ 0 (η, λ, ε, μ, …).</summary>
    public static double NonNegative(double value, string name) =>
        value >= 0 && double.IsFinite(value) ? value : throw Out(name, value, "a finite number ≥ 0");

    /// <summary>A decay rate in [0, 1) (Adam's β₁, β₂).</summary>
    public static double Below1(double value, string name) =>
        value is >= 0 and < 1 ? value : throw Out(name, value, "in [0, 1)");

    /// <summary>A weight in [0, 1] (dampening, ρ, α).</summary>
    public static double Fraction(double value, string name) =>
        value is >= 0 and <= 1 ? value : throw Out(name, value, "in [0, 1]");

    private static ArgumentOutOfRangeException Out(string name, double value, string range) =>
        new(name, string.Create(CultureInfo.InvariantCulture, $"{name} must be {range}, got {value}"));
}
