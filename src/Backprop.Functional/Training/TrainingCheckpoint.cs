using System.Numerics;

namespace Backprop.Functional;

/// <summary>Everything <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, TrainingCheckpoint{T}?, Action{TrainingCheckpoint{T}}?, Action{EpochResult}?, Action{int, int}?)"/>
/// needs to continue a run where it stopped, so that the resumed run ends with the same model bit for bit as one that
/// was never stopped: θ, the optimizer's moments and step count, the data order and its generator's state, the position
/// (epoch and batch), the running sums behind the reported loss and the divergence check, and the finished epochs'
/// results. Fit hands one to its checkpoint callback every <see cref="TrainingOptions.CheckpointEvery"/> steps (a copy:
/// keep it or write it with <see cref="CheckpointFile.Save{T}"/>); <see cref="CheckpointFile.Load{T}"/> reads one back.
/// <para>Threads: immutable once made (Fit hands out a copy); safe to read from any thread, as long as nobody writes the
/// arrays it holds.</para></summary>
/// <param name="Spec">The network's layers and cost.</param>
/// <param name="Parameters">θ, [<c>Spec.Layout.Count</c>].</param>
/// <param name="OptimizerName">The optimizer's type name (e.g. <c>Adam</c>); resuming with another is refused.</param>
/// <param name="MomentCount">The optimizer's <see cref="Optimizer.MomentCount"/>.</param>
/// <param name="Moments">The moment vectors one after another, [MomentCount × θ].</param>
/// <param name="Step">Optimizer updates done (<see cref="OptimizerState.Step"/>); schedules read it.</param>
/// <param name="Epoch">Epochs finished.</param>
/// <param name="Batch">Batches of epoch <c>Epoch + 1</c> done; 0 means that epoch's shuffle has not happened yet.</param>
/// <param name="BatchSize">Rows per batch of the run (a resumed run must use the same).</param>
/// <param name="ShuffleState">The shuffle generator's <see cref="SeededRandom.State"/>.</param>
/// <param name="Order">The current epoch's order of the training rows, a permutation of 0 … n − 1.</param>
/// <param name="EpochLossSum">Σ cost × rows over the batches of the current epoch done so far.</param>
/// <param name="StartCost">The divergence check's starting cost (NaN when the check was off; a run resumed with the
/// check on then measures it on the resumed θ).</param>
/// <param name="RunningCost">The divergence check's running mean cost (NaN when the check was off).</param>
/// <param name="History">The results of the finished epochs, [Epoch].</param>
/// <param name="Metadata">The caller's entries (as given to <see cref="CheckpointFile.Save{T}"/>); empty from Fit.</param>
/// <remarks>Record equality compares the arrays by reference, not element by element.</remarks>
public sealed record TrainingCheckpoint<T>(
    NetworkSpec Spec,
    T[] Parameters,
    string OptimizerName,
    int MomentCount,
    T[] Moments,
    long Step,
    int Epoch,
    int Batch,
    int BatchSize,
    ulong ShuffleState,
    int[] Order,
    double EpochLossSum,
    double StartCost,
    double RunningCost,
    IReadOnlyList<EpochResult> History,
    IReadOnlyDictionary<string, string> Metadata)
    where T : unmanaged, IFloatingPointIeee754<T>;
