using System.Numerics;

namespace Backprop.Functional;

/// <summary>An optimizer that needs more of the network than ∂C/∂θ (curvature-vector products, each layer's inputs and
/// pre-activation gradients), so it takes the whole step: Hessian-free, natural gradient, K-FAC, AdaHessian. It owns
/// its workspaces and buffers, sized at construction for one network and a largest batch; steps after the first
/// allocate nothing.
/// <para>Threads: one step at a time.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
public interface ICurvatureOptimizer<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The CLI's name: <c>hessian-free</c>, <c>natural</c>, <c>kfac</c>, <c>adahessian</c>.</summary>
    string Name { get; }

    /// <summary>One update of <paramref name="theta"/> on the batch (<paramref name="x"/>, <paramref name="y"/>).</summary>
    /// <param name="theta">θ, updated in place.</param>
    /// <param name="x">Inputs, [rows × inputs], rows ≤ the batch it was made for.</param>
    /// <param name="y">Targets, [rows × outputs].</param>
    /// <returns>The batch's mean cost at θ before the update. When it is not finite, θ and the optimizer's state are
    /// left as they were.</returns>
    T Update(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y);
}
