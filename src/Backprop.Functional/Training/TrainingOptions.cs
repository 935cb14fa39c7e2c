namespace Backprop.Functional;

/// <summary>How <see cref="Trainer"/> fits a network. Defaults: Adam(1e-3), batch 64, 5 epochs, seed 0.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="BatchSize">Rows per mini-batch.</param>
/// <param name="Seed">Seed of the per-epoch shuffle.</param>
/// <param name="Optimizer">The update rule (null: <see cref="Adam"/> with torch's defaults).</param>
/// <param name="Schedule">Learning-rate schedule over update steps (null: constant).</param>
/// <param name="L2">Nielsen's L2 regularisation λ: C = C₀ + λ/(2n)·Σw², so ∂C/∂w gains (λ/n)·w for every weight
/// (biases are not decayed), n the training-set size. Distinct from the optimizers' torch-style WeightDecay.</param>
/// <param name="ClipNorm">Clip the gradient to this global L2 norm before the update (null: no clipping).</param>
/// <param name="Threads">Threads large GEMMs may use (small ones always run on the calling thread), or the micro-shards
/// (see <paramref name="MicroShards"/>).</param>
/// <param name="EvaluationBatch">Rows per batch when evaluating.</param>
/// <param name="DivergenceFactor">Stop with <see cref="TrainingDivergedException"/> when the running mean of the batch
/// costs (an exponential moving average over about the last <see cref="DivergenceHorizon"/> samples) exceeds this
/// multiple of the starting cost (the initial network's mean cost on the first <see cref="DivergenceHorizon"/> training
/// rows, measured once before the first step). Default 10: healthy runs stay below their starting cost, a diverging one
/// crosses 10× within a few steps. Null turns this check off; a NaN or infinite cost always stops training
/// (<see cref="NonFiniteException"/>).</param>
/// <param name="CheckpointEvery">Call the checkpoint callback of <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, TrainingCheckpoint{T}?, Action{TrainingCheckpoint{T}}?, Action{EpochResult}?, Action{int, int}?)"/>
/// after every this many steps (0: never).</param>
/// <param name="Transform">The whole gradient transform chain, e.g. <c>Transforms.Chain(new Warmup(100, new CosineAnnealing(5000)),
/// new L2(5.0 / 50_000), new ClipByGlobalNorm(5), new Adam(1e-3))</c>; it replaces <paramref name="Optimizer"/>,
/// <paramref name="Schedule"/>, <paramref name="L2"/> and <paramref name="ClipNorm"/>, which must then be left unset
/// (null: those four build the chain, see <see cref="ResolveTransform"/>).</param>
/// <param name="Curvature">A curvature optimizer (Hessian-free, natural gradient, K-FAC, AdaHessian) that takes the whole
/// step in place of the gradient transform chain: Optimizer, Schedule, L2, ClipNorm and Transform must then be left unset,
/// and such a run is not checkpointed (null: the chain).</param>
/// <param name="MicroShards">Cut each mini-batch into this many micro-shards whose gradients are taken in parallel, one
/// thread each, and summed in a fixed order (synchronous data parallelism). The model is then the same bit for bit
/// whatever <paramref name="Threads"/> is; this count is what changes the bits (k shards equal the unsharded step to
/// rounding). The rule for the threads: with 1 (the default) they split the GEMMs and the update; with k &gt; 1 they run
/// shards at once, each shard's GEMMs on one thread, when θ fits in 2.5 MiB, else the shards run in turn and
/// the threads split their GEMMs; never both, so no more than <paramref name="Threads"/> threads work. Feature networks
/// only (a sequence network is refused).</param>
public sealed record TrainingOptions(
    int Epochs = 5,
    int BatchSize = 64,
    long Seed = 0,
    Optimizer? Optimizer = null,
    LearningRateSchedule? Schedule = null,
    double L2 = 0,
    double? ClipNorm = null,
    int Threads = 1,
    int EvaluationBatch = 1000,
    double? DivergenceFactor = 10,
    int CheckpointEvery = 0,
    GradientTransform? Transform = null,
    CurvatureMethod? Curvature = null,
    int MicroShards = 1)
{
    /// <summary>Samples the divergence check averages over, and measures the starting cost on.</summary>
    public const int DivergenceHorizon = 1024;

    /// <summary>The chain a training run applies: <see cref="Transform"/> when set; otherwise
    /// <c>Chain(L2(λ/n)?, ClipByGlobalNorm(c)?, Optimizer ?? new Adam())</c> with <see cref="Schedule"/>, each stage only
    /// when asked for (the optimizer alone when none is), which is what these options have always meant.</summary>
    /// <param name="trainCount">n, the training-set size (L2's λ/n).</param>
    /// <returns>The transform.</returns>
    /// <exception cref="ArgumentException"><see cref="Transform"/> is set together with Optimizer, Schedule, L2 or
    /// ClipNorm, or the transform never writes θ.</exception>
    public GradientTransform ResolveTransform(int trainCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trainCount, 1);
        if (Transform is { } transform)
        {
            if (Optimizer is not null || Schedule is not null || L2 != 0 || ClipNorm is not null)
                throw new ArgumentException("TrainingOptions.Transform is the whole chain: leave Optimizer, Schedule, L2 and ClipNorm unset and put them in it (Transforms.Chain(schedule, new L2(λ / n), new ClipByGlobalNorm(c), optimizer))");
            RequireWrites(transform);
            return transform;
        }
        var optimizer = Optimizer ?? new Adam();
        if (L2 == 0 && ClipNorm is null && Schedule is null) return optimizer;
        var members = new List<GradientTransform>(3);
        if (L2 != 0) members.Add(new L2(L2 / trainCount));
        if (ClipNorm is { } clip) members.Add(new ClipByGlobalNorm(clip));
        members.Add(optimizer);
        return new Chain([.. members]) { Schedule = Schedule };
    }

    /// <summary>Refuses a transform that would never update θ, naming it.</summary>
    internal static void RequireWrites(GradientTransform transform)
    {
        if ((transform.Capabilities & TransformCapabilities.WritesParameters) == 0)
            throw new ArgumentException($"{transform.Name} never writes θ: a training chain ends with an optimizer (e.g. Transforms.Chain({transform.Name}, new Adam()))", nameof(transform));
    }
}

/// <summary>What one epoch did.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean of the batch costs over the epoch (before each update).</param>
/// <param name="Test">Evaluation on the test set after the epoch (null without a test set).</param>
/// <param name="SamplesPerSecond">Training throughput of the epoch (data copying included, evaluation excluded).</param>
/// <param name="Elapsed">Wall time of the epoch's training loop.</param>
public sealed record EpochResult(int Epoch, double TrainLoss, Evaluation? Test, double SamplesPerSecond, TimeSpan Elapsed);

/// <summary>Loss, accuracy and confusion matrix of a network on a dataset.
/// <para>Threads: immutable once returned (nothing writes <see cref="Confusion"/> afterwards);
/// shareable.</para></summary>
/// <param name="Loss">Mean cost.</param>
/// <param name="Accuracy">Fraction of samples whose class is their label: the arg-max of the output against the arg-max
/// of the target, or for one output (a binary classifier) output ≥ ½ against target ≥ ½.</param>
/// <param name="Confusion">Counts, [label × predicted], classes × classes (row-major); empty when there are more than
/// <see cref="MaxConfusionClasses"/> classes (the matrix would take classes² counts: 16 GiB for 65,536).</param>
/// <param name="Classes">Number of classes.</param>
public sealed record Evaluation(double Loss, double Accuracy, int[] Confusion, int Classes)
{
    /// <summary>The most classes an evaluation keeps a confusion matrix for (a million counts, 4 MiB).</summary>
    public const int MaxConfusionClasses = 1024;

    /// <summary>Where the network's output was first NaN or ±∞, e.g. "sample 17 gives NaN at output 3" (0-based, in the
    /// data's order); null when every output was finite. When set, <see cref="Loss"/> and <see cref="Accuracy"/> say
    /// nothing about the model: its weights overflow on that input.</summary>
    public string? NonFinite { get; init; }
}

/// <summary>A numerical blow-up during training: a NaN or infinite cost, stopped before it reached θ.</summary>
public sealed class NonFiniteException : TrainingDivergedException
{
    /// <summary>Creates the exception with a message naming where it happened.</summary>
    public NonFiniteException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public NonFiniteException() { }

    /// <summary>Creates the exception with an inner exception.</summary>
    public NonFiniteException(string message, Exception inner) : base(message, inner) { }
}
