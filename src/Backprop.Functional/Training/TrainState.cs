using System.Numerics;

namespace Backprop.Functional;

/// <summary>Everything a training step carries from one call to the next, in one object instead of ten parameters:
/// the gradient transform chain, its state (the step count) and moment buffers, the workspace, the gradient vector
/// and the <see cref="StepMode"/>. Pass it to <see cref="Trainer.Step{T}(Network{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, TrainState{T})"/>.
/// <para>Threads: one step at a time (a step writes the state, the workspace, the gradient and the moments).</para></summary>
/// <typeparam name="T">The element type.</typeparam>
/// <example><code>
/// using var train = new TrainState&lt;float&gt;(net, Transforms.Chain(new ClipByGlobalNorm(5), new Adam(1e-3)), batch: 32);
/// float cost = Trainer.Step(net, x, y, train);
/// </code></example>
public sealed class TrainState<T> : IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A fresh state for training <paramref name="network"/> with <paramref name="transform"/> on batches of
    /// up to <paramref name="batch"/> rows: step 0, the transform's initial moments, a workspace and a gradient vector,
    /// all owned (and disposed) by this object.</summary>
    /// <param name="network">The network the steps will train (its layout sizes the buffers).</param>
    /// <param name="transform">The transform chain (an optimizer alone is one).</param>
    /// <param name="batch">The largest batch a step will take.</param>
    /// <param name="threads">Threads for the large GEMMs and the update (1: the calling thread only).</param>
    /// <param name="time">Time steps of the sequences, when the network reads sequences.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/>, <paramref name="threads"/> or
    /// <paramref name="time"/> is less than 1.</exception>
    public TrainState(Network<T> network, GradientTransform transform, int batch, int threads = 1, int time = 1)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Transform = transform;
        Workspace = network.CreateWorkspace(batch, threads, time);
        Gradient = network.CreateGradient();
        Buffers = transform.CreateBuffers<T>(network.Layout.Count);
    }

    /// <summary>The gradient transform chain applied after each gradient.</summary>
    public GradientTransform Transform { get; }

    /// <summary>The step count (updates done); advanced by each step that updates θ. Settable to resume.</summary>
    public OptimizerState State { get; set; }

    /// <summary>The transform's moment vectors.</summary>
    public OptimizerBuffers<T> Buffers { get; }

    /// <summary>Scratch for the forward and backward passes.</summary>
    public Workspace<T> Workspace { get; }

    /// <summary>∂C/∂θ of the last stored step (not written by a fused one).</summary>
    public ParameterVector<T> Gradient { get; }

    /// <summary>Stored, fused, or fused when it can be (the default).</summary>
    public StepMode Mode { get; init; }

    /// <summary>Micro-shards per batch (see <see cref="TrainingOptions.MicroShards"/>): with k &gt; 1 the workspace's
    /// threads take the shards' gradients in parallel and θ is the same bit for bit for any thread count (default 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int MicroShards
    {
        get => _microShards;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _microShards = value;
        }
    }

    private readonly int _microShards = 1;

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        Buffers.Dispose();
        Workspace.Dispose();
        Gradient.Dispose();
    }
}
