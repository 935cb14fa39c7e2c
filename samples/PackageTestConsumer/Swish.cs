using System.Numerics;
using Backprop.Functional;

namespace PackageTestConsumer;

/// <summary>A user's own activation, Swish: σ(z) = z·s(z) with s the logistic function, σ′(z) = s(z) + z·s(z)(1 − s(z)).</summary>
public readonly struct Swish : IElementwiseActivation
{
    public static ActivationKind Kind => ActivationKind.Identity;   // only runtime networks read it

    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => z / (T.One + T.Exp(-z));

    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.One / (T.One + T.Exp(-z));
        return s + z * s * (T.One - s);
    }

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < z.Length; i++) a[i] = Value(z[i]);
    }

    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < z.Length; i++) destination[i] = Derivative(z[i], a[i]);
    }

    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < z.Length; i++) delta[i] = upstream[i] * Derivative(z[i], a[i]);
    }
}

/// <summary>Swish with the derivative that forgot the product rule: s(z) alone. The kit must catch it.</summary>
public readonly struct WrongSwish : IElementwiseActivation
{
    public static ActivationKind Kind => ActivationKind.Identity;

    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => Swish.Value(z);

    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-z));   // the bug

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T> =>
        Swish.Apply(z, a, width);

    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < z.Length; i++) destination[i] = Derivative(z[i], a[i]);
    }

    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < z.Length; i++) delta[i] = upstream[i] * Derivative(z[i], a[i]);
    }
}
