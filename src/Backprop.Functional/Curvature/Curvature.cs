using System.Numerics;

namespace Backprop.Functional;

/// <summary>Exact curvature-vector products of a network's mean cost C(θ) on one batch, each one extra forward-mode
/// (tangent) pass and one backward pass, no finite differences (Pearlmutter 1994; Schraudolph 2002):
/// <list type="bullet">
/// <item><see cref="HessianVector{T}"/>: Hv = ∇²C(θ)·v by the R-operator.</item>
/// <item><see cref="GaussNewtonVector{T}"/>: Gv = Jᵀ H_L J v, the network linearised at the split point and the loss's
/// own curvature there (positive semi-definite for convex losses).</item>
/// <item><see cref="FisherVector{T}"/>: Fv for the true or the empirical Fisher.</item>
/// </list>
/// Call <see cref="Forward{T}"/> once for (θ, x); any number of products on the same θ, x and y may follow (a
/// conjugate-gradient solve reuses the forward pass). Allocates nothing.</summary>
public static class Curvature
{
    /// <summary>The forward pass at θ on x into <paramref name="ws"/>, kept for the products that follow.</summary>
    public static void Forward<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, CurvatureWorkspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>After <see cref="Forward{T}"/>: ∂C/∂θ into <paramref name="gradient"/>; returns the batch's mean cost.</summary>
    public static T Gradient<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>After <see cref="Forward{T}"/>: Hv = ∇²C(θ)·v into <paramref name="hv"/>.</summary>
    public static void HessianVector<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, ReadOnlySpan<T> v, Span<T> hv) where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>After <see cref="Forward{T}"/>: Gv = Jᵀ H_L J v into <paramref name="gv"/>.</summary>
    public static void GaussNewtonVector<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, ReadOnlySpan<T> v, Span<T> gv) where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>After <see cref="Forward{T}"/>: Fv for the <paramref name="kind"/> Fisher into <paramref name="fv"/>.</summary>
    public static void FisherVector<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, ReadOnlySpan<T> v, Span<T> fv, FisherKind kind) where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
