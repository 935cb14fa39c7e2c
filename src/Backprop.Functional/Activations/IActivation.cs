using System.Numerics;

namespace Backprop.Functional;

/// <summary>An activation σ as an operator struct with static members: called through a generic
/// <c>where TAct : struct, IActivation</c>, so the JIT and the AOT compiler inline it and nothing boxes.</summary>
public interface IActivation
{
    /// <summary>The matching <see cref="ActivationKind"/>.</summary>
    static abstract ActivationKind Kind { get; }

    /// <summary>Forward: a = σ(z), applied to rows of <paramref name="width"/> elements.</summary>
    /// <param name="z">Pre-activations, [rows × width].</param>
    /// <param name="a">Activations, written, [rows × width].</param>
    /// <param name="width">Row width (matters only to row-wise activations such as softmax).</param>
    static abstract void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Backward: δ = J_σ(z)ᵀ·u per row, the vector-Jacobian product. For an element-wise σ this is
    /// δ = u ⊙ σ′(z); for softmax it is the exact product with the full Jacobian.</summary>
    /// <param name="z">Pre-activations, [rows × width].</param>
    /// <param name="a">Activations σ(z), [rows × width].</param>
    /// <param name="upstream">u = ∂C/∂a, [rows × width]; may be the same memory as <paramref name="delta"/>.</param>
    /// <param name="delta">δ = ∂C/∂z, written, [rows × width].</param>
    /// <param name="width">Row width.</param>
    static abstract void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An activation applied to each element on its own, with scalar value and derivative.</summary>
public interface IElementwiseActivation : IActivation
{
    /// <summary>σ(z).</summary>
    static abstract T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>σ′(z), given z and a = σ(z) (whichever is cheaper to use).</summary>
    static abstract T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>σ″(z), given z and a = σ(z): what curvature needs (the R-operator's backward pass in <see cref="Curvature"/>,
    /// Becker–LeCun diagonals). The default throws: an activation without it has no exact Hessian-vector product.</summary>
    /// <exception cref="NotSupportedException">The activation does not define σ″.</exception>
    static virtual T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> =>
        throw new NotSupportedException("this activation defines no second derivative (IElementwiseActivation.SecondDerivative), so curvature products cannot pass through it");

    /// <summary>destination = σ′(z) element-wise, vectorised.</summary>
    static abstract void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>;
}
