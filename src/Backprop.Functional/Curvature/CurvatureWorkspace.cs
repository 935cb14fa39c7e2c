using System.Numerics;

namespace Backprop.Functional;

/// <summary>Scratch for curvature-vector products on one network at one batch size: the forward pass (<see cref="Primal"/>:
/// zˡ, aˡ, δˡ) and its tangent along a direction v (Żˡ, ȧˡ and R{δˡ}, laid out as a second workspace), rented once.
/// <para>Threads: one thread at a time.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class CurvatureWorkspace<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Scratch for batches of up to <paramref name="batch"/> rows of <paramref name="spec"/> (sequences of
    /// <paramref name="time"/> steps when the network reads sequences).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/>, <paramref name="threads"/> or
    /// <paramref name="time"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The network gives an output at every step: curvature products take one output
    /// per sample.</exception>
    public CurvatureWorkspace(NetworkSpec spec, int batch, int threads = 1, int time = 1)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (spec.Layers[^1].Output.IsSequence)
            throw new ArgumentException($"{spec} gives an output at every step; curvature products take one output per sample", nameof(spec));
        Spec = spec;
        Primal = new Workspace<T>(spec.Layers, batch, time) { Threads = threads };
        Tangent = new Workspace<T>(spec.Layers, batch, time) { Threads = threads };
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
