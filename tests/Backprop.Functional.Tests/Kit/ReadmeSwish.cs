using System.Numerics;

namespace Backprop.Functional.Tests.Kit.Readme;

// The README's "Property-testing your own network" example, word for word: Swish with a derivative that forgot the
// product rule. KitTests runs the README's one-line property on it and checks the message the README shows.
#pragma warning disable CA1050, CS1591
public readonly struct Swish : IElementwiseActivation
{
    public static ActivationKind Kind => ActivationKind.Identity;   // only runtime networks read it; they take the library's kinds

    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => z / (T.One + T.Exp(-z));   // z·s(z)

    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> =>
        T.One / (T.One + T.Exp(-z));   // the bug: s(z); the product rule gives s(z) + z·s(z)(1 − s(z))

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
#pragma warning restore CA1050, CS1591
