using System.Diagnostics;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>The training loop, thin over the core: per epoch a seeded shuffle; per mini-batch the mean gradient
/// (<see cref="Network{T}.ValueAndGradient"/>), optional L2 and clipping, and one optimizer update; after each epoch
/// an evaluation. The same seed gives the same model bit for bit. A step allocates nothing.
/// <para>Threads: no shared state, but a step or a fit writes the network's θ, its workspace and the optimizer buffers:
/// one training run per network, and nothing else uses that network meanwhile. Different networks train in parallel
/// safely.</para></summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="network"/> on <paramref name="train"/>, evaluating on <paramref name="test"/>
    /// after every epoch.</summary>
    /// <param name="network">Updated in place.</param>
    /// <param name="train">Training set; its features and outputs must match the network.</param>
    /// <param name="test">Optional test set.</param>
    /// <param name="options">Epochs, batch size, optimizer …</param>
    /// <param name="onEpoch">Called after each epoch.</param>
    /// <param name="onBatch">Called after each batch with (batch index, batches per epoch).</param>
    /// <exception cref="ArgumentException">The data does not fit the network.</exception>
    /// <exception cref="NonFiniteException">A batch's cost became NaN or infinite (θ is left as before that step).</exception>
    public static IReadOnlyList<EpochResult> Fit<T>(Network<T> network, Dataset train, Dataset? test, TrainingOptions options,
        Action<EpochResult>? onEpoch = null, Action<int, int>? onBatch = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(options);
        RequireFits(network, train);
        if (test is not null) RequireFits(network, test);

        var optimizer = options.Optimizer ?? new Adam();
        var batcher = new Batcher(train, options.BatchSize, options.Seed);
        using var ws = network.CreateWorkspace(options.BatchSize, options.Threads);
        using var gradient = network.CreateGradient();
        using var buffers = optimizer.CreateBuffers<T>(network.Layout.Count);
        using var x = new BatchBuffer<T>(options.BatchSize * train.Features);
        using var y = new BatchBuffer<T>(options.BatchSize * train.Outputs);
        var state = new OptimizerState(0);
        T l2 = T.CreateChecked(options.L2 / train.Count);
        var results = new List<EpochResult>(options.Epochs);

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            batcher.NextEpoch();
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            for (int b = 0; b < batcher.BatchCount; b++)
            {
                int rows = batcher.Copy<T>(b, x.Span, y.Span);
                var xs = x.Span[..(rows * train.Features)];
                var ys = y.Span[..(rows * train.Outputs)];
                T cost = Step(network, xs, ys, ws, gradient.Span, optimizer, ref state, buffers, options, l2);
                if (!T.IsFinite(cost))
                    throw new NonFiniteException(
                        $"epoch {epoch}, step {state.Step + 1} (batch {b + 1} of {batcher.BatchCount}): the cost is {cost}; {WhereNonFinite(ws, rows)}. Training stopped before the update; lower the learning rate, or check the data.");
                lossSum += double.CreateChecked(cost) * rows;
                onBatch?.Invoke(b, batcher.BatchCount);
            }
            clock.Stop();
            var evaluation = test is null ? null : Evaluate(network, test, options.EvaluationBatch);
            var result = new EpochResult(epoch, lossSum / train.Count, evaluation, train.Count / clock.Elapsed.TotalSeconds, clock.Elapsed);
            results.Add(result);
            onEpoch?.Invoke(result);
        }
        return results;
    }

    /// <summary>One training step: C and ∂C/∂θ of the batch, then g += (λ/n)·w on the weights when
    /// <paramref name="l2PerWeight"/> ≠ 0, clipping when the options ask for it, and one optimizer update with the
    /// scheduled rate (split over two threads when the workspace has more than one and θ is large). A non-finite cost
    /// returns before anything is updated. Allocates nothing.</summary>
    /// <remarks>A one-sample batch with Sgd, Adam or AdamW and neither L2 nor clipping runs
    /// <see cref="Network{T}.TrainOnline"/>: the same update bit for bit (up to the sign of a zero), with ∂C/∂θ formed
    /// inside it, so <paramref name="gradient"/> is not written on that path.</remarks>
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
        if (x.Length == network.Spec.Inputs && l2PerWeight == T.Zero && options.ClipNorm is null && OuterProductUpdate.Supports(optimizer))
        {
            if (gradient.Length != network.Parameters.Length)   // the same refusal as the stored path's
                Shapes.ThrowLengths("gradient", gradient.Length, "theta", network.Parameters.Length);
            return network.TrainOnline(x, y, ws, optimizer, ref state, buffers, lr);
        }
        T cost = network.ValueAndGradient(x, y, ws, gradient);
        if (!T.IsFinite(cost)) return cost;
        if (l2PerWeight != T.Zero) AddL2(network, gradient, l2PerWeight);
        if (options.ClipNorm is { } clip) ClipByGlobalNorm.Apply(gradient, T.CreateChecked(clip));
        state = ws.Threads > 1 && gradient.Length >= ParallelUpdate<T>.MinimumLength && ParallelUpdate<T>.Splits(optimizer)
            ? ParallelUpdate<T>.Run(optimizer, state, network.Parameters, gradient, buffers, lr)
            : optimizer.Update(state, network.Parameters, gradient, buffers, lr);
        return cost;
    }

    /// <summary>Mean cost, accuracy (arg-max of the output against the arg-max of the target) and confusion matrix.</summary>
    public static Evaluation Evaluate<T>(Network<T> network, Dataset data, int batch = 1000) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        RequireFits(network, data);
        batch = Math.Max(1, Math.Min(batch, data.Count));
        int classes = data.Outputs;
        var confusion = new int[classes * classes];
        using var ws = network.CreateWorkspace(batch);
        using var x = new BatchBuffer<T>(batch * data.Features);
        using var y = new BatchBuffer<T>(batch * data.Outputs);
        var batcher = new Batcher(data, batch, 0, shuffle: false);
        double loss = 0;
        int correct = 0;
        for (int b = 0; b < batcher.BatchCount; b++)
        {
            int rows = batcher.Copy<T>(b, x.Span, y.Span);
            var ys = y.Span[..(rows * classes)];
            loss += double.CreateChecked(network.Cost(x.Span[..(rows * data.Features)], ys, ws)) * rows;
            var a = ws.A(ws.LayerCount - 1, rows);
            for (int r = 0; r < rows; r++)
            {
                int predicted = ArgMax<T>(a.Slice(r * classes, classes));
                int label = ArgMax<T>(ys.Slice(r * classes, classes));
                confusion[label * classes + predicted]++;
                if (predicted == label) correct++;
            }
        }
        return new Evaluation(loss / data.Count, (double)correct / data.Count, confusion, classes);
    }

    /// <summary>Index of the largest element (the first one on ties).</summary>
    public static int ArgMax<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Names the first layer whose zˡ or aˡ is not finite, and where.</summary>
    private static string WhereNonFinite<T>(Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int l = 0; l < ws.LayerCount; l++)
        {
            int width = ws.Width(l);
            foreach (var (name, values) in new[] { ("z", ws.Z(l, rows).ToArray()), ("a", ws.A(l, rows).ToArray()) })
                for (int i = 0; i < values.Length; i++)
                    if (!T.IsFinite(values[i]))
                        return $"the first non-finite value is {name} of layer {l} (sample {i / width}, unit {i % width}) = {values[i]}";
        }
        return "every zˡ and aˡ is finite, so the cost itself overflowed";
    }

    private static void AddL2<T>(Network<T> network, Span<T> gradient, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layout = network.Layout;
        for (int l = 0; l < network.Spec.Layers.Count; l++)
        {
            var slot = layout.Weight(l);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(slot.Of((ReadOnlySpan<T>)network.Parameters), scale, slot.Of(gradient), slot.Of(gradient));
        }
    }

    private static void RequireFits<T>(Network<T> network, Dataset data) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Features != network.Spec.Inputs || data.Outputs != network.Spec.Outputs)
            throw new ArgumentException(
                $"dataset {data.Name} is [{data.Count} × {data.Features}] → [{data.Outputs}] but the network maps [{network.Spec.Inputs}] → [{network.Spec.Outputs}]");
    }
}
