using System.Numerics;

namespace Backprop.Functional.Tests.Kit;

/// <summary>A user's activation, as the README's "Property-testing your own network" writes it: Swish, σ(z) = z·s(z)
/// with s the logistic function, σ′(z) = s(z)(1 + z(1 − s(z))).</summary>
public readonly struct Swish : IElementwiseActivation
{
    public static ActivationKind Kind => ActivationKind.Identity;   // not one of the library's kinds; runtime networks are not built from it

    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => z / (T.One + T.Exp(-z));

    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.One / (T.One + T.Exp(-z));
        return s * (T.One + z * (T.One - s));
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

/// <summary>Swish whose span Derivative is right but whose Backward forgets the upstream gradient beyond the first
/// vector of 8: the scalar forms pass, the span check must not.</summary>
public readonly struct SwishWrongBackward : IElementwiseActivation
{
    public static ActivationKind Kind => ActivationKind.Identity;

    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => Swish.Value(z);

    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => Swish.Derivative(z, a);

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T> =>
        Swish.Apply(z, a, width);

    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T> =>
        Swish.Derivative(z, a, destination);

    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < z.Length; i++) delta[i] = (i < 8 ? upstream[i] : T.One) * Derivative(z[i], a[i]);
    }
}
