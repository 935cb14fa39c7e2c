using System.Numerics;

namespace Backprop.Functional;

/// <summary>Scratch for curvature-vector products on one network at one batch size: the forward pass (<see cref="Primal"/>:
/// zˡ, aˡ, δˡ) and its tangent along a direction v (Żˡ, ȧˡ and R{δˡ}, laid out as a second workspace), rented once.
/// <para>Threads: one thread at a time.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class CurvatureWorkspace<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Scratch for batches of up to <paramref name="batch"/> rows of <paramref name="spec"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="threads"/> is less than 1.</exception>
    public CurvatureWorkspace(NetworkSpec spec, int batch, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Spec = spec;
        Primal = new Workspace<T>(spec.Layers, batch) { Threads = threads };
        Tangent = new Workspace<T>(spec.Layers, batch) { Threads = threads };
    }

    /// <summary>The network the workspace was made for.</summary>
    public NetworkSpec Spec { get; }

    /// <summary>The largest batch.</summary>
    public int Batch => Primal.Batch;

    /// <summary>The forward pass (zˡ, aˡ) written by <see cref="Curvature.Forward{T}"/>, and the δˡ of the last product.</summary>
    public Workspace<T> Primal { get; }

    /// <summary>The tangents: scratch Żˡ, outputs ȧˡ, and R{δˡ} in the δ slots.</summary>
    internal Workspace<T> Tangent { get; }

    /// <summary>Rows of the batch <see cref="Curvature.Forward{T}"/> last ran on.</summary>
    public int Rows { get; internal set; }

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        Primal.Dispose();
        Tangent.Dispose();
    }
}
