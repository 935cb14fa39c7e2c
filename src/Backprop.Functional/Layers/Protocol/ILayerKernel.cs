using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// The layer protocol: the static kernels of one layer kind, implemented by a <c>readonly struct</c> and reached
/// through <see cref="Layer{TSelf, TKernel}"/> (a kind is a description record plus this operator struct, as the
/// activations are). The core calls a kind once per layer per batch; nothing here is called per element.
/// </summary>
/// <remarks>
/// Contract, for every kind:
/// <list type="bullet">
/// <item><see cref="Parameters"/> lists the tensors the layer owns, in the order they sit in its slice of θ; the
/// layout names them <c>layers.{l}.{name}</c> (PyTorch's state-dict names).</item>
/// <item><see cref="Forward"/> writes <c>Y</c> and keeps in <c>Scratch</c> (<see cref="ScratchPerSample"/> values per
/// sample) whatever <see cref="Backward"/> needs besides x and y.</item>
/// <item><see cref="Backward"/> is a vector–Jacobian product: from ∂C/∂y (<c>DY</c>, which it may overwrite) it writes
/// ∂C/∂x into <c>DX</c> when <c>DX</c> is not empty, and the batch's ∂C/∂θ into <c>DTheta</c> (written, not added;
/// a kind that sums over time clears it first) when <c>DTheta</c> is not empty.</item>
/// <item><see cref="ForwardTangent"/> and <see cref="BackwardTangent"/>, the R-operator of the forward and of the
/// backward pass (exact curvature products, <see cref="Curvature"/>), are optional: the defaults throw
/// <see cref="NotSupportedException"/> naming the kind.</item>
/// <item><see cref="Format"/> and <see cref="TryParse"/> round-trip the description as the arguments of
/// <c>Kind(arguments)</c> in a layer list (no <c>,</c> <c>(</c> <c>)</c> inside).</item>
/// </list>
/// <para>Threads: the kernels are static and stateless; they write only the spans they are given.</para>
/// </remarks>
/// <typeparam name="TLayer">The kind's description record.</typeparam>
public interface ILayerKernel<TLayer> where TLayer : Layer
{
    /// <summary>The kind's name in model files, the CLI and messages, e.g. <c>Dense</c>.</summary>
    static abstract string Kind { get; }

    /// <summary>The tensors <paramref name="layer"/> owns, in θ order. Called when a layout is built, not per step.</summary>
    static abstract ParameterTensor[] Parameters(TLayer layer);

    /// <summary>Values per sample that Forward keeps for Backward, for sequences of <paramref name="time"/> steps.</summary>
    static abstract int ScratchPerSample(TLayer layer, int time);

    /// <summary>Values Forward keeps once per batch whatever the rows (e.g. a weight transposed for the GEMMs); 0 by default.</summary>
    static virtual int ScratchPerLayer(TLayer layer) => 0;

    /// <summary>y = f(x; θ) for every row; keeps what Backward needs in the scratch.</summary>
    static abstract void Forward<T>(TLayer layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>The vector–Jacobian product: ∂C/∂x (when DX is not empty) and ∂C/∂θ (when DTheta is not empty) from ∂C/∂y.</summary>
    static abstract void Backward<T>(TLayer layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>The R-operator: y and ẏ = ∂y/∂x·ẋ + ∂y/∂θ·v. Until a kind implements it, this throws naming the kind.</summary>
    /// <exception cref="NotSupportedException">The kind has no forward-mode tangent.</exception>
    static virtual void ForwardTangent<T>(TLayer layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        throw new NotSupportedException($"layer kind {layer.Kind} has no forward-mode tangent (ForwardTangent) yet, so curvature products cannot pass through it");

    /// <summary>The backward pass and its R-operator at once: from ∂C/∂y and R{∂C/∂y}, ∂C/∂x and R{∂C/∂x} (when DX is not
    /// empty) and R{∂C/∂θ}, this layer's slice of Hv. Until a kind implements it, this throws naming the kind.</summary>
    /// <exception cref="NotSupportedException">The kind has no R-operator of its backward pass.</exception>
    static virtual void BackwardTangent<T>(TLayer layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        throw new NotSupportedException($"layer kind {layer.Kind} has no R-operator of its backward pass (BackwardTangent) yet, so Hessian-vector products cannot pass through it");

    /// <summary>The description's arguments as text, e.g. <c>784-128:ReLU</c> for Dense; no <c>,</c> <c>(</c> <c>)</c>.</summary>
    static abstract string Format(TLayer layer);

    /// <summary>The description from its <see cref="Format"/>ted arguments; false with a one-line reason if they are not valid.</summary>
    static abstract bool TryParse(string arguments, [NotNullWhen(true)] out TLayer? layer, out string reason);
}
