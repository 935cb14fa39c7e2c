using System.Numerics;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Hutchinson's (1989) estimator of the diagonal of the Hessian of the batch's mean cost, on the exact
/// Hessian-vector product (<see cref="Curvature.HessianVector{T}"/>): diag(H) ≈ (1/S) Σₛ zₛ ⊙ H zₛ with Rademacher zₛ
/// (each element ±1 with probability ½, from a <see cref="SeededRandom"/>).
/// <para>Unbiased for any H: E[zᵢ (Hz)ᵢ] = Σⱼ Hᵢⱼ E[zᵢzⱼ] = Hᵢᵢ. One sample's error in entry i is Σⱼ≠ᵢ Hᵢⱼ zᵢzⱼ, of
/// variance Σⱼ≠ᵢ Hᵢⱼ² (Rademacher has the least variance of any distribution with E z = 0, E z² = 1), so the error falls
/// as 1/√S and is zero for a diagonal H. Cost: one tangent pass and one backward pass per sample; works for every layer
/// that has tangent kernels, not only dense ones (compare <see cref="HessianDiagonal{T}"/>).</para>
/// <para>Threads: one call at a time (the generator, the buffers and the curvature workspace are written).</para></summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class Hutchinson<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> _buffer;   // z, then Hz
    private SeededRandom _random;
    private bool _disposed;

    /// <summary>An estimator for <paramref name="spec"/> whose probes are drawn from <paramref name="seed"/>.</summary>
    public Hutchinson(NetworkSpec spec, long seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        _random = new SeededRandom(seed);
        _buffer = MemoryOwner<T>.Allocate(checked(2 * spec.Layout.Count), AllocationMode.Clear);
    }

    /// <summary>The network.</summary>
    public NetworkSpec Spec { get; }

    /// <summary>The probe generator's state: the next estimate's probes follow from it (checkpoints restore it).</summary>
    public ulong RandomState
    {
        get => _random.State;
        set => _random = SeededRandom.FromState(value);
    }

    /// <summary>After <see cref="Curvature.Forward{T}"/> on (θ, x): (1/S) Σₛ zₛ ⊙ H zₛ into <paramref name="diagonal"/>, S =
    /// <paramref name="samples"/> fresh Rademacher probes. Allocates nothing.</summary>
    /// <param name="theta">θ, as passed to <see cref="Curvature.Forward{T}"/>.</param>
    /// <param name="x">Inputs, [rows × inputs], as passed to <see cref="Curvature.Forward{T}"/>.</param>
    /// <param name="y">Targets, [rows × outputs].</param>
    /// <param name="ws">The curvature workspace holding the forward pass.</param>
    /// <param name="samples">S ≥ 1.</param>
    /// <param name="diagonal">The estimate of ∂²C/∂θᵢ², written, [θ].</param>
    /// <exception cref="ArgumentException">A shape does not match, the workspace is for another network, x is not the batch
    /// <see cref="Curvature.Forward{T}"/> last ran on, or y holds NaN or infinity.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="samples"/> is less than 1.</exception>
    /// <exception cref="NotSupportedException">A layer kind has no tangent kernels.</exception>
    public void Estimate(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, CurvatureWorkspace<T> ws, int samples,
        Span<T> diagonal)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        int n = Spec.Layout.Count;
        if (diagonal.Length != n) Shapes.ThrowLengths("diagonal", diagonal.Length, "the layout", n);
        Span<T> z = _buffer.Span[..n], hz = _buffer.Span.Slice(n, n);
        diagonal.Clear();
        for (int s = 0; s < samples; s++)
        {
            Rademacher(ref _random, z);
            Curvature.HessianVector(Spec, theta, x, y, ws, z, hz);
            TensorPrimitives.MultiplyAdd<T>(z, hz, diagonal, diagonal);
        }
        if (samples > 1) TensorPrimitives.Multiply(diagonal, T.One / T.CreateChecked(samples), diagonal);
    }

    /// <summary>Fills <paramref name="z"/> with independent ±1, one bit of <paramref name="random"/> each (64 per draw).</summary>
    public static void Rademacher(ref SeededRandom random, Span<T> z)
    {
        for (int i = 0; i < z.Length; i += 64)
        {
            ulong bits = random.NextUInt64();
            int end = Math.Min(z.Length, i + 64);
            for (int j = i; j < end; j++, bits >>= 1)
                z[j] = (bits & 1) == 0 ? T.One : T.NegativeOne;
        }
    }

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _buffer.Dispose();
    }
}
