using System.Globalization;
using Backprop.Functional;

namespace Backprop.Cli;

/// <summary>Where training data comes from: MNIST in <see cref="MnistDir"/> (null: the cache, fetched if needed),
/// or a CSV file with a label column.</summary>
internal sealed record DataSource(string? MnistDir, string? Csv, string? LabelColumn, string? TestCsv, bool Regression)
{
    public bool IsCsv => Csv is not null;

    public static DataSource Mnist(string? dir = null) => new(dir, null, null, null, false);
}

/// <summary>A learning-rate schedule as the command line states it; built once the number of updates is known
/// (cosine annealing runs over the whole training).</summary>
internal sealed record ScheduleSettings(string Kind, int? StepSize, double? Gamma, long Warmup)
{
    public static ScheduleSettings Constant { get; } = new("constant", null, null, 0);

    public LearningRateSchedule? Build(long totalSteps)
    {
        LearningRateSchedule main = Kind switch
        {
            "constant" => new ConstantRate(),
            "step" => new StepDecay(StepSize ?? throw new UsageException("--schedule step needs --step-size N (updates between decays)"), Gamma ?? 0.1),
            "exp" => new ExponentialDecay(Gamma ?? throw new UsageException("--schedule exp needs --gamma G (factor per update, e.g. 0.9999)")),
            "cosine" => new CosineAnnealing(Math.Max(1, totalSteps - Warmup)),
            _ => throw new UsageException($"unknown schedule '{Kind}'"),
        };
        if (Warmup > 0) return new Warmup(Warmup, main);
        return Kind == "constant" ? null : main;
    }

    public override string ToString()
    {
        string main = Kind switch
        {
            "step" => string.Create(CultureInfo.InvariantCulture, $"step(every {StepSize} updates, γ={Gamma ?? 0.1})"),
            "exp" => string.Create(CultureInfo.InvariantCulture, $"exp(γ={Gamma})"),
            _ => Kind,
        };
        return Warmup > 0 ? string.Create(CultureInfo.InvariantCulture, $"warmup {Warmup} then {main}") : main;
    }
}

/// <summary>Everything <c>backprop train</c> needs, resolved from the command line, a preset and the defaults.</summary>
/// <param name="Layers">Widths, input first; null: 784-128-10 for MNIST, features-128-classes for CSV data.</param>
internal sealed record TrainSettings(
    int[]? Layers,
    ActivationKind Hidden,
    ActivationKind Output,
    LossKind Loss,
    Optimizer Optimizer,
    ScheduleSettings Schedule,
    double L2,
    double? ClipNorm,
    Initialization Init,
    int Batch,
    int Epochs,
    long Seed,
    int Threads,
    DataSource Data,
    string Out,
    string? Preset)
{
    /// <summary>The default run: MNIST 784-128-10, ReLU, softmax + cross-entropy, Adam 1e-3, batch 64, 5 epochs,
    /// seed 0, He initialisation, saved to model.safetensors.</summary>
    public static TrainSettings Default { get; } = new(
        null, ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, new Adam(), ScheduleSettings.Constant,
        0, null, Initialization.He, 64, 5, 0, 1, DataSource.Mnist(), "model.safetensors", null);

    /// <summary>A layer list from <c>--layers</c> (each layer's kind and activation given; then <see cref="Layers"/>,
    /// <see cref="Hidden"/> and <see cref="Output"/> are not used).</summary>
    public IReadOnlyList<Layer>? LayerList { get; init; }

    /// <summary>The widths to build (for a layer list: its edges), given the data's feature and output counts.</summary>
    public int[] LayersFor(int features, int outputs) =>
        LayerList is { } list ? [.. list.Select(l => l.Inputs), list[^1].Outputs]
        : Layers ?? (Data.IsCsv ? [features, 128, outputs] : [784, 128, 10]);

    /// <summary>The network to train, given the data's widths.</summary>
    public NetworkSpec SpecFor(int features, int outputs) =>
        LayerList is { } list ? new NetworkSpec(list, Loss) : NetworkSpec.Mlp(LayersFor(features, outputs), Hidden, Output, Loss);

    /// <summary>A curvature optimizer taking the whole step in place of <see cref="Optimizer"/> (null: the optimizer).</summary>
    public CurvatureMethod? Curvature { get; init; }

    /// <summary>What the run's update rule is called in the report and the model's metadata.</summary>
    public string OptimizerText => Curvature is { } m ? Names.Of(m) : Names.Of(Optimizer);

    /// <summary>Stop when the running mean cost passes this multiple of the starting cost (null: only NaN/∞ stop).</summary>
    public double? DivergenceFactor { get; init; } = 10;

    /// <summary>Micro-shards per batch (<see cref="TrainingOptions.MicroShards"/>; 1: none, the threads go to the products).</summary>
    public int MicroShards { get; init; } = 1;

    /// <summary>Train with Hogwild! (<see cref="HogwildTrainer{T}"/>) on this many workers (null: the synchronous step).</summary>
    public int? HogwildWorkers { get; init; }

    /// <summary>Distribute the micro-shards over the processes of an MPI job (<c>mpirun -np N backprop train --mpi</c>).</summary>
    public bool Mpi { get; init; }

    /// <summary>Steps between checkpoints (0: none).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Where checkpoints go (null: <see cref="CheckpointPath"/>'s default next to the model).</summary>
    public string? Checkpoint { get; init; }

    /// <summary>A checkpoint to continue from.</summary>
    public string? Resume { get; init; }

    /// <summary>Watch every step with a <see cref="LayerProbe{T}"/> and add its per-layer figures to the epoch lines.</summary>
    public bool Diagnostics { get; init; }

    /// <summary>The checkpoint file: --checkpoint, else the model's name with extension .checkpoint.safetensors.</summary>
    public string CheckpointPath => Checkpoint ?? Path.ChangeExtension(Out, ".checkpoint.safetensors");

    public string LayersText => LayerList is { } list ? Backprop.Functional.LayerList.Format(list) : Layers is null ? (Data.IsCsv ? "features-128-outputs" : "784-128-10") : string.Join('-', Layers);
}
