using System.Numerics;

namespace Backprop.Functional;

/// <summary>What <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, FitHooks{T}?, CancellationToken)"/>
/// does besides training: where it starts, and what it calls as it goes. All optional.
/// <para>Threads: immutable; the callbacks run on the thread that enumerates the run.</para></summary>
/// <typeparam name="T">The network's element type.</typeparam>
/// <param name="Resume">A checkpoint of this run to continue from (null: start afresh). Checked against the network,
/// options and data when Fit is called; with it the network's θ is replaced by the checkpoint's when training starts.</param>
/// <param name="OnCheckpoint">Receives a copy of the training state after every <see cref="TrainingOptions.CheckpointEvery"/>
/// steps (after the step's divergence check, so a step that diverged is never checkpointed).</param>
/// <param name="OnBatch">Called after each step with (batch index, batches per epoch).</param>
/// <param name="Probe">Shown every step (<see cref="LayerProbe{T}.Observe"/>, before <paramref name="OnBatch"/>), having
/// seen θ before the first (<see cref="LayerProbe{T}.Begin"/>); read and reset it when you like, e.g. per epoch. Not
/// called by a curvature optimizer's steps (they keep their own workspace).</param>
public sealed record FitHooks<T>(
    TrainingCheckpoint<T>? Resume = null,
    Action<TrainingCheckpoint<T>>? OnCheckpoint = null,
    Action<int, int>? OnBatch = null,
    LayerProbe<T>? Probe = null)
    where T : unmanaged, IFloatingPointIeee754<T>;
