using System.Diagnostics;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>The training loop, thin over the core: per epoch a seeded shuffle; per mini-batch the mean gradient
/// (<see cref="Network{T}.ValueAndGradient"/>), then the gradient transform chain (L2, clipping, the optimizer …; see
/// <see cref="TrainingOptions.ResolveTransform"/>); after each epoch
/// an evaluation. The same seed gives the same model bit for bit. A step allocates nothing.
/// <para>Threads: no shared state, but a step or a fit writes the network's θ, its workspace and the optimizer buffers:
/// one training run per network, and nothing else uses that network meanwhile. Different networks train in parallel
/// safely.</para></summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="network"/> on <paramref name="train"/> epoch by epoch as the returned run is read,
    /// evaluating on <paramref name="test"/> after every epoch: <c>foreach (var epoch in Trainer.Fit(…))</c> sees each
    /// epoch as soon as it is done. A run resumed from any of its checkpoints (<see cref="FitHooks{T}.Resume"/>), with
    /// the same data and options, ends with the same θ bit for bit as the run that wrote it, and yields the same epoch
    /// losses and evaluations (times and throughput aside), the resumed epochs' taken from the checkpoint.</summary>
    /// <remarks>The arguments (and a checkpoint to resume from) are checked here; training happens as the run is read
    /// (see <see cref="TrainingRun"/>): a result that is never read trains nothing. <c>Complete()</c> trains all of it.
    /// <paramref name="cancellationToken"/> is checked before each step, so a cancelled run stops after the step that
    /// was running, θ, the moments and the step count consistent with each other.</remarks>
    /// <param name="network">Updated in place while the run is read; with a checkpoint its θ is replaced by the checkpoint's.</param>
    /// <param name="train">Training set; its features and outputs must match the network.</param>
    /// <param name="test">Optional test set.</param>
    /// <param name="options">Epochs, batch size, optimizer …; when resuming, the same as the run that wrote the checkpoint.</param>
    /// <param name="hooks">A checkpoint to resume from, and callbacks per step and per checkpoint (null: none).</param>
    /// <param name="cancellationToken">Stops training between two steps with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The run: every epoch's result, trained as it is read.</returns>
    /// <exception cref="ArgumentException">The data does not fit the network, a data set is empty, or the checkpoint does
    /// not fit this network, optimizer, batch size or dataset (the message names what differs).</exception>
    /// <exception cref="NonFiniteException">While reading: a batch's cost became NaN or infinite (θ is left as before that step), or an epoch's last update left θ holding NaN or ±∞.</exception>
    /// <exception cref="TrainingDivergedException">While reading: the running mean cost rose above
    /// <see cref="TrainingOptions.DivergenceFactor"/> × the starting cost (θ holds that step's update).</exception>
    /// <exception cref="OperationCanceledException">While reading: <paramref name="cancellationToken"/> was cancelled.</exception>
    public static TrainingRun Fit<T>(Network<T> network, Dataset train, Dataset? test, TrainingOptions options,
        FitHooks<T>? hooks = null, CancellationToken cancellationToken = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(options);
        RequireFits(network, train);
        if (test is not null) RequireFits(network, test);
        ArgumentOutOfRangeException.ThrowIfNegative(options.CheckpointEvery);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MicroShards, 1);
        if (options.Epochs < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be 0 or more");
        if (options.EvaluationBatch < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.EvaluationBatch, "EvaluationBatch must be at least 1");
        if (options.DivergenceFactor is { } factor && !(factor > 0 && double.IsFinite(factor)))
            throw new ArgumentOutOfRangeException(nameof(options), factor, "DivergenceFactor must be a positive finite number, or null to turn the check off");
        hooks ??= new FitHooks<T>();
        if (hooks.Probe is not null && options.MicroShards > 1)
            throw new ArgumentException($"a LayerProbe reads the workspace of an unsharded step, but MicroShards = {options.MicroShards} gives each shard its own: leave MicroShards at 1 while probing", nameof(hooks));
        if (options.Curvature is { } method)
        {
            if (options.Transform is not null || options.Optimizer is not null || options.Schedule is not null || options.L2 != 0 || options.ClipNorm is not null)
                throw new ArgumentException($"TrainingOptions.Curvature ({method.Name}) takes the whole step: leave Optimizer, Schedule, L2, ClipNorm and Transform unset", nameof(options));
            if (options.CheckpointEvery > 0 || hooks.Resume is not null)
                throw new ArgumentException($"a run with a curvature optimizer ({method.Name}) is not checkpointed: its state (damping, factors, CG direction) has no place in a checkpoint yet; leave CheckpointEvery at 0", nameof(options));
            if (options.MicroShards > 1)
                throw new ArgumentException($"a curvature optimizer ({method.Name}) takes the whole step on the GEMM threads; MicroShards applies to the gradient transform chain: leave it at 1", nameof(options));
            if (network.Spec.Layers[0].Input.IsSequence)
                throw new ArgumentException($"the curvature optimizers ({method.Name}) train networks that read one feature vector per sample, not sequences like {network.Spec}; the curvature products themselves reach recurrent layers (Curvature, with CurvatureWorkspace(spec, batch, time: …))", nameof(network));
        }
        var transform = options.ResolveTransform(train.Count);
        // What a checkpoint records of the chain: its moments' owner. Options without Transform keep the optimizer's name
        // (as checkpoints always have); the stateless L2, clip and schedule come from the same options on resume.
        string stateName = options.Transform is null && transform is Chain legacy ? legacy.Members[^1].Name : transform.Name;
        // A batch larger than the data set is the whole set: size the buffers by what the data can fill.
        int batch = Math.Min(options.BatchSize, train.Count);
        var batcher = new Batcher(train, batch, options.Seed);
        if (hooks.Resume is { } resume) RequireResumable(resume, network, train, options, stateName, transform.MomentCount, batcher.BatchCount);
        return new TrainingRun(Epochs(network, train, test, options, hooks, transform, stateName, batcher, batch, cancellationToken));
    }

    /// <summary>Trains <paramref name="network"/> to the end, as reading all of
    /// <see cref="Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, FitHooks{T}?, CancellationToken)"/> does,
    /// calling <paramref name="onEpoch"/> after each epoch.</summary>
    /// <param name="network">Updated in place.</param>
    /// <param name="train">Training set; its features and outputs must match the network.</param>
    /// <param name="test">Optional test set.</param>
    /// <param name="options">Epochs, batch size, optimizer …</param>
    /// <param name="onEpoch">Called after each epoch.</param>
    /// <param name="onBatch">Called after each batch with (batch index, batches per epoch).</param>
    /// <returns>Every epoch's result.</returns>
    /// <exception cref="ArgumentException">The data does not fit the network, or a data set is empty.</exception>
    /// <exception cref="NonFiniteException">A batch's cost became NaN or infinite (θ is left as before that step), or the
    /// last update of an epoch (or the one before a checkpoint) left θ holding NaN or ±∞ (the message names the tensor and
    /// index; nothing is evaluated or checkpointed after it).</exception>
    /// <exception cref="TrainingDivergedException">The running mean cost rose above
    /// <see cref="TrainingOptions.DivergenceFactor"/> × the starting cost.</exception>
    public static IReadOnlyList<EpochResult> Fit<T>(Network<T> network, Dataset train, Dataset? test, TrainingOptions options,
        Action<EpochResult>? onEpoch, Action<int, int>? onBatch = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        Fit(network, train, test, options, resume: null, onCheckpoint: null, onEpoch, onBatch);

    /// <summary>Trains <paramref name="network"/> to the end, as reading all of
    /// <see cref="Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, FitHooks{T}?, CancellationToken)"/> with
    /// these hooks does, calling <paramref name="onEpoch"/> after each epoch trained here (not the resumed ones).</summary>
    /// <param name="network">Updated in place; with <paramref name="resume"/> its θ is replaced by the checkpoint's.</param>
    /// <param name="train">Training set; its features and outputs must match the network.</param>
    /// <param name="test">Optional test set.</param>
    /// <param name="options">Epochs, batch size, optimizer …; when resuming, the same as the run that wrote the checkpoint.</param>
    /// <param name="resume">A checkpoint of this run to continue from (null: start afresh).</param>
    /// <param name="onCheckpoint">Receives a copy of the training state after every <see cref="TrainingOptions.CheckpointEvery"/>
    /// steps (after the step's divergence check, so a step that diverged is never checkpointed).</param>
    /// <param name="onEpoch">Called after each epoch.</param>
    /// <param name="onBatch">Called after each batch with (batch index, batches per epoch).</param>
    /// <returns>Every epoch's result, the resumed ones' taken from the checkpoint.</returns>
    /// <exception cref="ArgumentException">The data does not fit the network, or <paramref name="resume"/> does not fit
    /// this network, optimizer, batch size or dataset (the message names what differs).</exception>
    /// <exception cref="NonFiniteException">A batch's cost became NaN or infinite (θ is left as before that step), or the
    /// last update of an epoch (or the one before a checkpoint) left θ holding NaN or ±∞ (the message names the tensor and
    /// index; nothing is evaluated or checkpointed after it).</exception>
    /// <exception cref="TrainingDivergedException">The running mean cost rose above
    /// <see cref="TrainingOptions.DivergenceFactor"/> × the starting cost (θ holds that step's update).</exception>
    public static IReadOnlyList<EpochResult> Fit<T>(Network<T> network, Dataset train, Dataset? test, TrainingOptions options,
        TrainingCheckpoint<T>? resume, Action<TrainingCheckpoint<T>>? onCheckpoint,
        Action<EpochResult>? onEpoch = null, Action<int, int>? onBatch = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var run = Fit(network, train, test, options, new FitHooks<T>(resume, onCheckpoint, onBatch));
        int resumed = resume?.Epoch ?? 0;
        foreach (var result in run)
            if (result.Epoch > resumed) onEpoch?.Invoke(result);
        return run;
    }

    /// <summary>The training loop behind <see cref="TrainingRun"/>: yields each epoch's result as it finishes (a resumed
    /// run's history first). Its buffers live from the first MoveNext to the end or Dispose.</summary>
    private static IEnumerable<EpochResult> Epochs<T>(Network<T> network, Dataset train, Dataset? test, TrainingOptions options,
        FitHooks<T> hooks, GradientTransform transform, string stateName, Batcher batcher, int batch, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (resume, onCheckpoint, onBatch, probe) = hooks;
        using var ws = network.CreateWorkspace(batch, options.Threads, TimeOf(network, train));
        using var gradient = network.CreateGradient();
        using var buffers = transform.CreateBuffers<T>(network.Layout.Count);
        using var x = new BatchBuffer<T>(batch * train.Features);
        using var y = new BatchBuffer<T>(batch * train.Outputs);
        using var curvature = options.Curvature?.Create<T>(network.Spec, batch, options.Threads, options.Seed);
        var state = new OptimizerState(0);
        var results = new List<EpochResult>();   // not sized by a number from input
        var divergence = new DivergenceCheck(options.DivergenceFactor, train.Count);
        int firstEpoch = 1, firstBatch = 0;
        double lossSum = 0;
        if (resume is not null)
        {
            Restore(resume, network, batcher, buffers);
            state = new OptimizerState(resume.Step);
            firstEpoch = resume.Epoch + 1;
            firstBatch = resume.Batch;
            lossSum = resume.EpochLossSum;
            results.AddRange(resume.History);
            divergence.Start = resume.StartCost;
            divergence.Running = resume.RunningCost;
            foreach (var done in resume.History) yield return done;
        }
        if (divergence.Enabled && !double.IsFinite(divergence.Start))
            divergence.Start = divergence.Running = StartCost(network, train, ws, x.Span, y.Span, batch);
        probe?.Begin(network.Parameters);

        for (int epoch = firstEpoch; epoch <= options.Epochs; epoch++)
        {
            if (firstBatch == 0) batcher.NextEpoch();   // a checkpoint taken mid-epoch holds that epoch's order already
            var clock = Stopwatch.StartNew();
            long rowsDone = 0;
            for (int b = firstBatch; b < batcher.BatchCount; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int rows = batcher.Copy<T>(b, x.Span, y.Span);
                var xs = x.Span[..(rows * train.Features)];
                var ys = y.Span[..(rows * train.Outputs)];
                T cost;
                if (curvature is null) cost = Run(network, xs, ys, ws, gradient.Span, transform, ref state, buffers, transform.LearningRateAt(state.Step), options.MicroShards);
                else
                {
                    cost = curvature.Update(network.Parameters, xs, ys);
                    if (T.IsFinite(cost)) state = new OptimizerState(state.Step + 1);
                    else network.Forward(xs, ws);   // so that the message below can say where
                }
                if (!T.IsFinite(cost))
                {
                    var (where, layer) = WhereNonFinite(ws, rows);
                    throw new NonFiniteException(
                        $"epoch {epoch}, step {state.Step + 1} (batch {b + 1} of {batcher.BatchCount}): the cost is {cost}; {where}. Training stopped before the update; lower the learning rate, or check the data.")
                    { Epoch = epoch, Step = state.Step + 1, Layer = layer };
                }
                double c = double.CreateChecked(cost);
                lossSum += c * rows;
                rowsDone += rows;
                if (divergence.Enabled && divergence.Add(c, rows))
                {
                    if (curvature is not null || options.MicroShards > 1) network.Forward(xs, ws);   // the message reads the forward pass
                    ThrowDiverged(network, ws, rows, divergence, c, epoch, state.Step, b, batcher.BatchCount, options.DivergenceFactor!.Value);
                }
                if (curvature is null) probe?.Observe(network.Parameters, xs, ws, gradient.Span);
                onBatch?.Invoke(b, batcher.BatchCount);
                if (onCheckpoint is not null && options.CheckpointEvery > 0 && state.Step % options.CheckpointEvery == 0)
                {
                    RequireFiniteTheta(network, epoch, state.Step, b, batcher.BatchCount);   // never a checkpoint of a blown-up θ
                    onCheckpoint(new TrainingCheckpoint<T>(network.Spec, network.Parameters.ToArray(), stateName,
                        buffers.Count, CopyMoments(buffers), state.Step, epoch - 1, b + 1, options.BatchSize, batcher.ShuffleState,
                        batcher.Order.ToArray(), lossSum, divergence.Start, divergence.Running, results.ToArray(), EmptyMetadata));
                }
            }
            firstBatch = 0;
            clock.Stop();
            // A step's cost is checked before its update, so the next step would see a θ the last update blew up; the
            // epoch's last update has no next step before the evaluation (or the end of the run) reads θ.
            RequireFiniteTheta(network, epoch, state.Step, batcher.BatchCount - 1, batcher.BatchCount);
            var evaluation = test is null ? null : Evaluate(network, test, options.EvaluationBatch);
            var result = new EpochResult(epoch, lossSum / train.Count, evaluation, rowsDone / clock.Elapsed.TotalSeconds, clock.Elapsed);
            lossSum = 0;
            results.Add(result);
            yield return result;
        }
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>();

    /// <summary>Throws <see cref="NonFiniteException"/> naming the tensor and index when the update of step
    /// <paramref name="step"/> (batch <paramref name="b"/>, 0-based) left θ holding NaN or ±∞ (a finite cost
    /// before an update that overflowed). One pass over θ: run at an epoch's end and before a checkpoint, not per step.</summary>
    private static void RequireFiniteTheta<T>(Network<T> network, int epoch, long step, int b, int batches)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (network.Layout.FirstNonFinite<T>(network.Parameters, out int layer) is { } bad)
            throw new NonFiniteException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"epoch {epoch}, step {step} (batch {b + 1} of {batches}): its update left θ holding {bad}, though the cost before it was finite. Training stopped; lower the learning rate, or check the data."))
            { Epoch = epoch, Step = step, Layer = layer };
    }

    private static T[] CopyMoments<T>(OptimizerBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var moments = new T[checked(buffers.Count * buffers.Length)];
        for (int i = 0; i < buffers.Count; i++) buffers.Moment(i).CopyTo(moments.AsSpan(i * buffers.Length));
        return moments;
    }

    /// <summary>Checks that <paramref name="resume"/> belongs to this run.</summary>
    private static void RequireResumable<T>(TrainingCheckpoint<T> resume, Network<T> network, Dataset train, TrainingOptions options,
        string stateName, int momentCount, int batches) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var c = resume;
        static void Refuse(string why) => throw new ArgumentException($"the checkpoint does not fit this run: {why}", nameof(resume));
        if (c.Spec != network.Spec) Refuse($"it is of {c.Spec}, the network is {network.Spec}");
        int n = network.Layout.Count;
        if (c.Parameters is null || c.Parameters.Length != n) Refuse($"θ has {c.Parameters?.Length} elements, the network {n}");
        if (c.OptimizerName != stateName || c.MomentCount != momentCount)
            Refuse($"it was written by {c.OptimizerName} with {c.MomentCount} moment vectors, this run uses {stateName} with {momentCount}");
        if (c.Moments is null || c.Moments.Length != (long)c.MomentCount * n) Refuse($"it holds {c.Moments?.Length} moment values, not {c.MomentCount} × {n}");
        if (c.BatchSize != options.BatchSize) Refuse($"it was written with batch size {c.BatchSize}, this run uses {options.BatchSize}");
        if (c.Order is null || c.Order.Length != train.Count) Refuse($"its data order covers {c.Order?.Length} rows, {train.Name} has {train.Count}");
        if (!IsPermutation(c.Order)) Refuse("its data order is not a permutation of the rows");
        if (c.Epoch < 0 || c.Epoch > options.Epochs || c.Batch < 0 || c.Batch > batches || (c.Epoch == options.Epochs && c.Batch != 0))
            Refuse($"it is at epoch {c.Epoch} + {c.Batch} batches, outside this run's {options.Epochs} epochs of {batches} batches");
        if (c.Step != (long)c.Epoch * batches + c.Batch)
            Refuse($"its step count {c.Step} is not {c.Epoch} epochs × {batches} batches + {c.Batch}");
        if (c.History is null || c.History.Count != c.Epoch) Refuse($"it holds {c.History?.Count} epoch results for {c.Epoch} finished epochs");
    }

    /// <summary>Puts the checked <paramref name="c"/>'s θ, moments and data order in place.</summary>
    private static void Restore<T>(TrainingCheckpoint<T> c, Network<T> network, Batcher batcher, OptimizerBuffers<T> buffers)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = network.Layout.Count;
        c.Parameters.CopyTo(network.Parameters);
        for (int i = 0; i < c.MomentCount; i++) c.Moments.AsSpan(i * n, n).CopyTo(buffers.Moment(i));
        batcher.Restore(c.ShuffleState, c.Order);
    }

    internal static bool IsPermutation(ReadOnlySpan<int> order)
    {
        var seen = new bool[order.Length];
        foreach (int i in order)
        {
            if ((uint)i >= (uint)seen.Length || seen[i]) return false;
            seen[i] = true;
        }
        return true;
    }

    /// <summary>The initial network's mean cost on the first <see cref="TrainingOptions.DivergenceHorizon"/> rows.</summary>
    private static double StartCost<T>(Network<T> network, Dataset train, Workspace<T> ws, Span<T> x, Span<T> y, int batch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rowsInOrder = new Batcher(train, batch, 0, shuffle: false);
        double sum = 0;
        int used = 0;
        for (int b = 0; b < rowsInOrder.BatchCount && used < TrainingOptions.DivergenceHorizon; b++)
        {
            int rows = rowsInOrder.Copy<T>(b, x, y);
            sum += double.CreateChecked(network.Cost(x[..(rows * train.Features)], y[..(rows * train.Outputs)], ws)) * rows;
            used += rows;
        }
        return sum / used;
    }

    private static void ThrowDiverged<T>(Network<T> network, Workspace<T> ws, int rows, DivergenceCheck d, double cost,
        int epoch, long step, int b, int batches, double factor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var (where, layer) = WhereNonFinite(ws, rows);
        if (layer < 0) (where, layer) = Largest(network, ws, rows);
        throw new TrainingDivergedException(string.Create(inv,
            $"epoch {epoch}, step {step} (batch {b + 1} of {batches}): training diverged: the running mean cost {d.Running:G4} is more than {factor:G4} × the starting cost {d.Start:G4} (this batch's cost: {cost:G4}); {where}. Training stopped; lower the learning rate, or raise the divergence factor if this rise is expected."))
        { Epoch = epoch, Step = step, Layer = layer };
    }

    /// <summary>Names the layer with the largest |zˡ| and the tensor with the largest |θ|.</summary>
    private static (string Where, int Layer) Largest<T>(Network<T> network, Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bestLayer = 0, bestIndex = 0;
        double bestZ = -1;
        for (int l = 0; l < ws.LayerCount; l++)
        {
            var z = ws.Z(l, rows);
            for (int i = 0; i < z.Length; i++)
            {
                double v = Math.Abs(double.CreateChecked(z[i]));
                if (v > bestZ) (bestZ, bestLayer, bestIndex) = (v, l, i);
            }
        }
        string slotName = "";
        double bestW = -1;
        ReadOnlySpan<T> theta = network.Parameters;
        foreach (var slot in network.Layout.Slots)
        {
            var values = slot.Of(theta);
            for (int i = 0; i < values.Length; i++)
            {
                double v = Math.Abs(double.CreateChecked(values[i]));
                if (v > bestW) (bestW, slotName) = (v, slot.Name);
            }
        }
        int width = Math.Max(1, ws.Z(bestLayer, rows).Length / rows);
        return (string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"the largest |z| is {bestZ:G4} in layer {bestLayer} (sample {bestIndex / width}, unit {bestIndex % width}), the largest |θ| {bestW:G4} in {slotName}"), bestLayer);
    }

    /// <summary>One training step: C and ∂C/∂θ of the batch, then g += (λ/n)·w on the weights when
    /// <paramref name="l2PerWeight"/> ≠ 0, clipping when the options ask for it, and one optimizer update with the
    /// scheduled rate (split over two threads when the workspace has more than one and θ is large). A non-finite cost
    /// returns before anything is updated. Allocates nothing after the first call with given options.</summary>
    /// <remarks>The step of a transform chain <c>Chain(L2(l2PerWeight), ClipByGlobalNorm(options.ClipNorm),
    /// optimizer)</c> and <c>options.Schedule</c> (the optimizer alone when there is neither L2 nor clipping); that chain
    /// is built once per options and optimizer and reused. A one-sample batch of a network whose layers with parameters are all dense, with Sgd, Adam or AdamW and neither L2 nor clipping runs
    /// <see cref="Network{T}.TrainOnline"/>: the same update bit for bit (up to the sign of a zero), with ∂C/∂θ formed
    /// inside it, so <paramref name="gradient"/> is not written on that path.
    /// <para>With <see cref="Nesterov"/> in <see cref="NesterovForm.LookAhead"/> form the gradient (and the L2 term) is
    /// taken at the look-ahead point θ − μv, written into the workspace's θ-sized scratch (rented on the first such step):
    /// θ itself is not moved, so it is never shifted and shifted back with rounding. The returned cost is then the cost
    /// at θ − μv, and the workspace holds that point's forward pass.</para></remarks>
    /// <param name="network">Updated in place.</param>
    /// <param name="x">The batch's inputs, [rows × inputs].</param>
    /// <param name="y">Its targets, [rows × outputs].</param>
    /// <param name="ws">A workspace for at least <c>rows</c> rows.</param>
    /// <param name="gradient">Scratch for ∂C/∂θ, [θ]; to read a gradient call <see cref="Network{T}.ValueAndGradient"/>.</param>
    /// <param name="optimizer">The update rule.</param>
    /// <param name="state">The optimizer's step count, advanced by one when θ is updated.</param>
    /// <param name="buffers">The optimizer's moments.</param>
    /// <param name="options">Schedule and clipping.</param>
    /// <param name="l2PerWeight">λ/n of Nielsen's L2, or zero.</param>
    /// <returns>The batch's mean cost before the update.</returns>
    public static T Step<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        Optimizer optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, TrainingOptions options, T l2PerWeight)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(options);
        double lr = options.Schedule?.Rate(optimizer.LearningRate, state.Step) ?? optimizer.LearningRate;
        var transform = l2PerWeight == T.Zero && options.ClipNorm is null
            ? optimizer
            : LegacyChains.For(options, optimizer, double.CreateChecked(l2PerWeight));
        return Run(network, x, y, ws, gradient, transform, ref state, buffers, lr, options.MicroShards);
    }

    /// <summary>One training step of <paramref name="network"/> as <paramref name="train"/> describes it: η =
    /// <c>train.Transform.LearningRateAt(train.State.Step)</c> (a chain's schedule applied), then <see cref="TrainingStep"/>
    /// in <see cref="TrainState{T}.Mode"/> (by default fused on a one-sample batch when the network and the transform can,
    /// stored otherwise), with the state's workspace, gradient and moments; <see cref="TrainState{T}.State"/> advances by one
    /// when θ is updated. The same bits as the ten-parameter step with the equivalent chain. A non-finite cost returns before
    /// anything is updated. Allocates nothing.</summary>
    /// <param name="network">Updated in place.</param>
    /// <param name="x">The batch's inputs, [rows × inputs], rows ≤ the state's batch.</param>
    /// <param name="y">Its targets, [rows × outputs].</param>
    /// <param name="train">The transform, its state and moments, the workspace and gradient, the mode.</param>
    /// <returns>The batch's mean cost before the update.</returns>
    /// <exception cref="ArgumentException">A shape does not match (the state was made for another network), y holds NaN
    /// or infinity, or a fused step was asked of what cannot take one.</exception>
    public static T Step<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, TrainState<T> train)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        var state = train.State;
        T cost = TrainingStep.RunSharded(new SpecTrainable<T>(network.Spec), network.Parameters, x, y, train.Workspace, train.Gradient.Span,
            train.Transform, ref state, train.Buffers, train.Transform.LearningRateAt(state.Step), train.Mode, train.MicroShards);
        train.State = state;
        return cost;
    }

    /// <summary>One training step through a gradient transform chain with η = <paramref name="lr"/>: C and ∂C/∂θ of the
    /// batch at <c>transform.GradientPoint</c> (θ, or a look-ahead point), then <c>transform.Update</c>, split over two
    /// threads when the workspace has more than one, θ is large and the transform (or its element-wise tail) says it may
    /// be. A one-sample batch with a transform that states <see cref="TransformCapabilities.FusedOuterProduct"/> runs
    /// the fused step (the same bits up to the sign of a zero; <paramref name="gradient"/> is not
    /// written). A non-finite cost returns before anything is updated. Allocates nothing. The legacy step and Fit call it;
    /// it is <see cref="TrainingStep.Run{T, TNet}"/> in <see cref="StepMode.Auto"/>.</summary>
    internal static T Run<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        GradientTransform transform, ref OptimizerState state, OptimizerBuffers<T> buffers, double lr, int microShards = 1)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        TrainingStep.RunSharded(new SpecTrainable<T>(network.Spec), network.Parameters, x, y, ws, gradient, transform, ref state, buffers, lr, StepMode.Auto, microShards);

    /// <summary>Mean cost, accuracy and confusion matrix (empty above <see cref="Evaluation.MaxConfusionClasses"/>
    /// classes). With two or more outputs a sample's class is the arg-max of the output and its label the arg-max of the
    /// target; with one output (a binary classifier's probability, e.g. sigmoid with cross-entropy) the class is
    /// output ≥ ½ and the label target ≥ ½, two classes (for a regression the accuracy means nothing).</summary>
    /// <param name="network">The network.</param>
    /// <param name="data">Samples it fits.</param>
    /// <param name="batch">Rows per forward pass, at least 1 (more than the data's are not used).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is less than 1.</exception>
    public static Evaluation Evaluate<T>(Network<T> network, Dataset data, int batch = 1000) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        RequireFits(network, data);
        batch = Math.Min(batch, data.Count);
        int outputs = data.Outputs;
        bool binary = outputs == 1;   // before: the arg-max of one value is always 0, so every sample counted as right
        int classes = binary ? 2 : outputs;
        if (network.Spec.Layers[^1].Output.IsSequence)
            throw new ArgumentException($"{network.Spec} gives an output at every step; Evaluate scores one output per sample (use Network.Cost per batch)");
        var confusion = classes <= Evaluation.MaxConfusionClasses ? new int[classes * classes] : [];
        using var ws = network.CreateWorkspace(batch, 1, TimeOf(network, data));
        using var x = new BatchBuffer<T>(batch * data.Features);
        using var y = new BatchBuffer<T>(batch * data.Outputs);
        var batcher = new Batcher(data, batch, 0, shuffle: false);
        double loss = 0;
        int correct = 0;
        string? nonFinite = null;
        for (int b = 0; b < batcher.BatchCount; b++)
        {
            int rows = batcher.Copy<T>(b, x.Span, y.Span);
            var ys = y.Span[..(rows * outputs)];
            loss += double.CreateChecked(network.Cost(x.Span[..(rows * data.Features)], ys, ws)) * rows;
            var a = ws.A(ws.LayerCount - 1, rows);
            if (nonFinite is null)
                for (int i = 0; i < rows * outputs; i++)
                    if (!T.IsFinite(a[i]))
                    {
                        nonFinite = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"sample {b * batch + i / outputs} gives {a[i]} at output {i % outputs}");
                        break;
                    }
            for (int r = 0; r < rows; r++)
            {
                int predicted = ClassOf<T>(a.Slice(r * outputs, outputs));
                int label = ClassOf<T>(ys.Slice(r * outputs, outputs));
                if (confusion.Length > 0) confusion[label * classes + predicted]++;
                if (predicted == label) correct++;
            }
        }
        return new Evaluation(loss / data.Count, (double)correct / data.Count, confusion, classes) { NonFinite = nonFinite };
    }

    private static T Half<T>() where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.One);

    /// <summary>The class an output row stands for: its arg-max, or for one output (a binary classifier's probability)
    /// 1 when it is ≥ ½, else 0. <see cref="Evaluate{T}"/>, <see cref="Predictor{T}.Classify"/> and <c>backprop predict</c> share it.</summary>
    public static int ClassOf<T>(ReadOnlySpan<T> output) where T : unmanaged, IFloatingPointIeee754<T> =>
        output.Length == 1 ? (output[0] >= Half<T>() ? 1 : 0) : ArgMax(output);

    /// <summary>Index of the largest element (the first one on ties).</summary>
    public static int ArgMax<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Names the first layer whose zˡ or aˡ is not finite, and where (layer −1 when all are finite).</summary>
    private static (string Where, int Layer) WhereNonFinite<T>(Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int l = 0; l < ws.LayerCount; l++)
        {
            foreach (var (name, values) in new[] { ("z", ws.Z(l, rows).ToArray()), ("a", ws.A(l, rows).ToArray()) })
            {
                int width = values.Length / rows;   // a layer's scratch (dense: zˡ) need not be as wide as its output
                for (int i = 0; i < values.Length; i++)
                    if (!T.IsFinite(values[i]))
                        return ($"the first non-finite value is {name} of layer {l} (sample {i / width}, unit {i % width}) = {values[i]}", l);
            }
        }
        return ("every zˡ and aˡ is finite, so the cost itself overflowed", -1);
    }

    private static void RequireFits<T>(Network<T> network, Dataset data) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0)
            throw new ArgumentException($"dataset {data.Name} has no samples: there is nothing to train on or evaluate");
        var spec = network.Spec;
        if (spec.Layers[0].Input.IsSequence)
        {
            int time = data.Features / spec.Inputs;
            int outputs = spec.Layers[^1].Output.IsSequence ? time * spec.Outputs : spec.Outputs;
            if (time < 1 || data.Features != time * spec.Inputs || data.Outputs != outputs)
                throw new ArgumentException(
                    $"dataset {data.Name} is [{data.Count} × {data.Features}] → [{data.Outputs}] but the network maps sequences [time × {spec.Inputs}] → {spec.Layers[^1].Output}: a sample must be whole steps of {spec.Inputs} features{(spec.Layers[^1].Output.IsSequence ? $" and its targets [time × {spec.Outputs}]" : "")}");
            return;
        }
        if (data.Features != spec.Inputs || data.Outputs != spec.Outputs)
            throw new ArgumentException(
                $"dataset {data.Name} is [{data.Count} × {data.Features}] → [{data.Outputs}] but the network maps [{spec.Inputs}] → [{spec.Outputs}]");
    }

    /// <summary>Time steps of <paramref name="data"/>'s samples for <paramref name="network"/> (1 unless it reads sequences).</summary>
    internal static int TimeOf<T>(Network<T> network, Dataset data) where T : unmanaged, IFloatingPointIeee754<T> =>
        network.Spec.Layers[0].Input.IsSequence ? data.Features / network.Spec.Inputs : 1;
}

/// <summary>The chain the legacy <see cref="Trainer.Step{T}(Network{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Workspace{T}, Span{T}, Optimizer, ref OptimizerState, OptimizerBuffers{T}, TrainingOptions, T)"/>
/// means by its options, built once per (options, optimizer, λ/n) and kept beside the options, so a step allocates nothing.</summary>
internal static class LegacyChains
{
    private sealed record Entry(Optimizer Optimizer, double L2, double? Clip, GradientTransform Chain);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TrainingOptions, Entry> Chains = new();

    internal static GradientTransform For(TrainingOptions options, Optimizer optimizer, double l2PerWeight)
    {
        if (Chains.TryGetValue(options, out var e) && ReferenceEquals(e.Optimizer, optimizer) && e.L2.Equals(l2PerWeight) && e.Clip == options.ClipNorm)
            return e.Chain;
        var members = new List<GradientTransform>(3);
        if (l2PerWeight != 0) members.Add(new L2(l2PerWeight));
        if (options.ClipNorm is { } clip) members.Add(new ClipByGlobalNorm(clip));
        members.Add(optimizer);
        var chain = Transforms.Chain([.. members]);
        Chains.AddOrUpdate(options, new Entry(optimizer, l2PerWeight, options.ClipNorm, chain));
        return chain;
    }
}
