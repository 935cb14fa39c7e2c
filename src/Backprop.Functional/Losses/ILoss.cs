using System.Numerics;

namespace Backprop.Functional;

/// <summary>A cost C as an operator struct. Per-sample costs are sums over the output elements, so the same
/// members serve one sample or a whole batch laid out row after row; the network divides by the batch size m
/// in exactly one place (<see cref="Equations.Backward{T}"/>) to make C the batch mean.</summary>
public interface ILoss
{
    /// <summary>The matching <see cref="LossKind"/>.</summary>
    static abstract LossKind Kind { get; }

    /// <summary>Whether this cost is defined for the outputs of <paramref name="output"/>.</summary>
    static abstract bool Fits(ActivationKind output);

    /// <summary>Σₓ Cₓ: the summed cost of the rows against <paramref name="y"/>. Where the pair of cost and output
    /// activation has a fused output error (softmax + categorical cross-entropy, sigmoid + binary cross-entropy) the cost
    /// is computed from the logits zᴸ (log-sum-exp, softplus with the log1p correction), as PyTorch's
    /// <c>cross_entropy</c> and <c>binary_cross_entropy_with_logits</c> do, so it stays exact when aᴸ saturates;
    /// otherwise from aᴸ. Partial sums (a row, or a block of elements) are accumulated in double.</summary>
    /// <typeparam name="TAct">The output activation σ, with aᴸ = σ(zᴸ).</typeparam>
    /// <typeparam name="T">The number type.</typeparam>
    /// <param name="z">zᴸ, [rows × width].</param>
    /// <param name="a">aᴸ = σ(zᴸ), [rows × width].</param>
    /// <param name="y">Targets, [rows × width].</param>
    /// <param name="width">Outputs per row.</param>
    static abstract T Cost<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>∇ₐCₓ element-wise, written to <paramref name="destination"/>.</summary>
    static abstract void Gradient<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>∂²Cₓ/∂aⱼ² element-wise into <paramref name="destination"/>: the cost is a sum of element-wise terms,
    /// so its Hessian in aᴸ is this diagonal. What curvature needs where the output activation is not fused with the cost
    /// (<see cref="Curvature"/>); the default throws.</summary>
    /// <exception cref="NotSupportedException">The cost defines no second derivative.</exception>
    static virtual void SecondDerivative<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        throw new NotSupportedException("this cost defines no second derivative (ILoss.SecondDerivative), so curvature products cannot use it");

    /// <summary>δᴸ = ∂Cₓ/∂zᴸ for each row. BP1 (<see cref="Equations.OutputError{TAct, T}"/>) unless the pair of
    /// cost and output activation has a fused form (δᴸ = a − y for softmax + categorical cross-entropy and for
    /// sigmoid + binary cross-entropy), which is exact and never divides by a(1 − a).</summary>
    /// <param name="z">zᴸ, [rows × width].</param>
    /// <param name="a">aᴸ = σ(zᴸ), [rows × width].</param>
    /// <param name="y">Targets, [rows × width].</param>
    /// <param name="delta">δᴸ, written, [rows × width].</param>
    /// <param name="width">Outputs per row.</param>
    static abstract void OutputError<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> delta, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>;
}
