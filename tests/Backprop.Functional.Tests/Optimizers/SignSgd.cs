using System.Collections.Concurrent;
using System.Numerics;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>A transform from outside the library: θ ← θ − η·sign(g). It states what it supports (element-wise, writes
/// θ; no fused path) and the library runs it with no edit of its own: split over threads, refused where it cannot run.
/// Records the length of every span it is given, to show the split.</summary>
public sealed record SignSgd(double LearningRate) : Optimizer(LearningRate, 0)
{
    /// <summary>Span lengths seen by <see cref="Update{T}(OptimizerState, Span{T}, ReadOnlySpan{T}, OptimizerBuffers{T}, double)"/>, with the thread.</summary>
    public static readonly ConcurrentQueue<(int Length, int Thread)> Seen = new();

    public override int MomentCount => 0;

    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise | TransformCapabilities.WritesParameters;

    public override OptimizerState Update<T>(OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate)
    {
        if (Record) Seen.Enqueue((theta.Length, Environment.CurrentManagedThreadId));
        T eta = T.CreateChecked(learningRate);
        for (int i = 0; i < theta.Length; i++) theta[i] -= eta * T.CreateChecked(T.Sign(g[i]));
        return state with { Step = state.Step + 1 };
    }

    /// <summary>Whether to record spans (off for the allocation test).</summary>
    public bool Record { get; init; } = true;
}
