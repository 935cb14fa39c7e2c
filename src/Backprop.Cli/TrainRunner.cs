using System.Diagnostics;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary>Runs <c>backprop train</c> from resolved <see cref="TrainSettings"/>: load data, build, fit with
/// progress, report, save the model and the plot.</summary>
internal static class TrainRunner
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <param name="warnings">Where warnings go (a plot that could not be written) [default: stderr].</param>
    /// <param name="world">This process's MPI job, set by <see cref="MpiRun"/> (null: one process).</param>
    public static int Run(TrainSettings s, IAnsiConsole console, TextWriter? warnings = null, MpiWorld? world = null)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(console);
        if (world is null && (s.Mpi || MpiRun.LaunchedWithOthers)) return MpiRun.Train(s, console, warnings);
        bool writes = world is not { Rank: > 0 };   // under MPI, rank 0 alone writes files
        var wall = Stopwatch.StartNew();
        OutputPath.Check(s.Out);
        var (train, test, testIsTrain) = DataLoading.Load(s.Data);
        int[] widths = s.LayersFor(train.Features, train.Outputs);
        bool sequences = s.LayerList is { } list && list[0].Input.IsSequence;   // a sample is whole steps of widths[0]
        if (sequences && train.Features % widths[0] != 0)
            throw new CliException(string.Create(Inv,
                $"--layers {s.LayersText} reads each sample of {train.Name} as steps of {widths[0]} features, but {train.Features} is not a multiple of {widths[0]} (MNIST: 28 steps of 28 pixels, e.g. Lstm(28-128))"));
        if ((!sequences && widths[0] != train.Features) || widths[^1] != train.Outputs)
            throw new CliException(string.Create(Inv,
                $"{train.Name} has {train.Features} features and {train.Outputs} {(s.Data.Regression ? "target" : "classes")}, but --layers {s.LayersText} maps {widths[0]} → {widths[^1]}"));
        var spec = s.SpecFor(train.Features, train.Outputs);
        using var network = Network<float>.Create(spec, s.Seed, s.Init);
        using var mpi = world is null ? null : MpiTraining.Begin(world, network);   // rank 0's θ; shards shared from here
        if (mpi is not null) mpi.SeparateWaiting = true;   // the summary line says where the time went

        int stepsPerEpoch = (train.Count + s.Batch - 1) / s.Batch;
        var options = s.Curvature is { } curvature
            ? new TrainingOptions(s.Epochs, s.Batch, s.Seed, Threads: s.Threads, DivergenceFactor: s.DivergenceFactor, Curvature: curvature)
            : new TrainingOptions(s.Epochs, s.Batch, s.Seed, s.Optimizer, s.Schedule.Build((long)stepsPerEpoch * s.Epochs),
                s.L2, s.ClipNorm, s.Threads, DivergenceFactor: s.DivergenceFactor, CheckpointEvery: s.CheckpointEvery, MicroShards: s.MicroShards);
        var run = RunMetadata(s, spec, train);
        var resume = s.Resume is null ? null : LoadCheckpoint(s.Resume, run);
        Action<TrainingCheckpoint<float>>? onCheckpoint = null;
        if (s.CheckpointEvery > 0 && writes)
        {
            string checkpoint = s.CheckpointPath;
            if (Path.GetDirectoryName(Path.GetFullPath(checkpoint)) is { } checkpointDir) Directory.CreateDirectory(checkpointDir);
            onCheckpoint = c => CheckpointFile.Save(checkpoint, c, run);
        }
        bool classification = !s.Data.Regression;
        string testName = testIsTrain ? "train-set" : "test";

        console.Line(string.Create(Inv,
            $"{(s.Preset is null ? "" : $"preset {s.Preset}: ")}{spec} on {train.Name} ({train.Count:N0} train, {(testIsTrain ? "no test set: evaluating on the training set" : $"{test.Count:N0} test")})"));
        console.Line(s.HogwildWorkers is { } workers
            ? string.Create(Inv, $"Hogwild! (asynchronous, lock-free) {s.OptimizerText}, batch {s.Batch}, {s.Epochs} epochs, seed {s.Seed}, init {Names.Of(s.Init)}, {workers} worker(s)")
            : string.Create(Inv,
            $"{s.OptimizerText}, schedule {s.Schedule}, L2 λ={s.L2}, batch {s.Batch}, {s.Epochs} epochs, seed {s.Seed}, init {Names.Of(s.Init)}, {s.Threads} thread(s){(s.MicroShards > 1 ? $" on {s.MicroShards} micro-shards" : "")}"));

        if (resume is not null)
            console.Line(string.Create(Inv, $"resuming from {s.Resume}: epoch {resume.Epoch + 1}, step {resume.Step}"));

        // --diagnostics: the probe watches every step; after each epoch line its figures, kept for the report.
        using var probe = s.Diagnostics ? new LayerProbe<float>(spec) : null;
        var diagnostics = new List<EpochDiagnostics>();
        void AfterEpoch(EpochResult r)
        {
            if (probe is null) return;
            diagnostics.Add(new EpochDiagnostics(r.Epoch, probe.Report()));
            probe.Reset();
            console.Line(DiagnoseCommand.CompactLine(diagnostics[^1].Report));
        }

        IReadOnlyList<EpochResult> results = s.HogwildWorkers is { } hogwildWorkers
            ? FitHogwild(network, train, test, s, hogwildWorkers, r => console.Line(Report.EpochLine(r, s.Epochs, classification, testName)))
            : console.Profile.Capabilities.Interactive
            ? FitWithProgress(network, train, test, options, resume, onCheckpoint, console, classification, testName, probe, AfterEpoch)
            : Fit(network, train, test, options, resume, onCheckpoint, r => { console.Line(Report.EpochLine(r, s.Epochs, classification, testName)); AfterEpoch(r); }, null, probe);

        var final = results[^1].Test!;
        if (final.NonFinite is { } where)   // θ is finite (the trainer checks it), yet it overflows on some input
            (warnings ?? Console.Error).WriteLine(string.Create(Inv, $"backprop: warning: on the {testName} set {where}: the weights are finite but overflow on that input, so the {testName} loss and accuracy below mean nothing"));
        if (classification)
        {
            console.Line(Report.Accuracy(final.Accuracy, testName));
            console.Write(Report.Confusion(final));
        }
        else
        {
            console.Line(string.Create(Inv, $"{testName} loss: {final.Loss:F6}"));
        }

        if (!writes) return ExitCodes.Ok;
        Save(s, network, train, final, testIsTrain);
        console.Line($"model saved to {s.Out}");
        LearningCurvePlot.WriteOrWarn(s.Out, results, classification, testName, console, warnings ?? Console.Error);
        var report = HtmlReport.ForTrain(s, spec, train, test, testIsTrain, results, classification, testName);
        if (diagnostics.Count > 0) report = report with { Diagnostics = ReportOf(diagnostics) };
        HtmlReport.WriteOrWarn(s.Out, report, console, warnings ?? Console.Error);
        double trainSeconds = results.Sum(r => r.Elapsed.TotalSeconds);
        console.Line(string.Create(Inv,
            $"wall time {wall.Elapsed.TotalSeconds:F1} s (training {trainSeconds:F1} s, {results.Sum(r => r.SamplesPerSecond * r.Elapsed.TotalSeconds) / trainSeconds:N0} samples/s)"));
        if (mpi is not null) console.Line(MpiRun.Summary(mpi, trainSeconds));
        return ExitCodes.Ok;
    }

    /// <summary>The probe's per-epoch figures as the report charts them: ‖∂C/∂Wˡ‖ (gradient flow) and the saturated
    /// fraction (0 where it does not apply) for every layer.</summary>
    internal static ReportDiagnostics ReportOf(IReadOnlyList<EpochDiagnostics> epochs)
    {
        var layers = epochs[0].Report.Layers;
        var names = layers.Select(l => string.Create(Inv, $"layer {l.Index + 1} ({l.Layer.Inputs}-{l.Layer.Outputs})")).ToArray();
        var norms = epochs.Select(e => e.Report.Layers.Select(l => l.WeightGradientNorm).ToArray()).ToArray();
        var saturated = epochs.Select(e => e.Report.Layers.Select(l => l.SaturatedFraction ?? 0).ToArray()).ToArray();
        return new ReportDiagnostics(names, norms, saturated);
    }

    /// <summary>Hogwild! epochs (<see cref="HogwildTrainer{T}"/>) with the run's η, batch and seed; a non-finite cost
    /// ends the run as a diverged synchronous one does (exit 1, no model written).</summary>
    private static IReadOnlyList<EpochResult> FitHogwild(Network<float> network, Dataset train, Dataset test, TrainSettings s, int workers,
        Action<EpochResult> onEpoch)
    {
        using var hogwild = new HogwildTrainer<float>(network, train,
            new HogwildOptions(s.Epochs, s.Batch, s.Optimizer.LearningRate, 1.0, s.Seed, workers));
        return hogwild.Fit(test, onEpoch);
    }

    /// <summary>Trainer.Fit's list overload, with a probe in the hooks when there is one.</summary>
    private static IReadOnlyList<EpochResult> Fit(Network<float> network, Dataset train, Dataset test, TrainingOptions options,
        TrainingCheckpoint<float>? resume, Action<TrainingCheckpoint<float>>? onCheckpoint, Action<EpochResult> onEpoch,
        Action<int, int>? onBatch, LayerProbe<float>? probe)
    {
        if (probe is null) return Trainer.Fit(network, train, test, options, resume, onCheckpoint, onEpoch, onBatch);
        using var run = Trainer.Fit(network, train, test, options, new FitHooks<float>(resume, onCheckpoint, onBatch, probe));
        int resumed = resume?.Epoch ?? 0;
        foreach (var result in run)
            if (result.Epoch > resumed) onEpoch(result);
        return run;
    }

    private static IReadOnlyList<EpochResult> FitWithProgress(Network<float> network, Dataset train, Dataset test,
        TrainingOptions options, TrainingCheckpoint<float>? resume, Action<TrainingCheckpoint<float>>? onCheckpoint,
        IAnsiConsole console, bool classification, string testName, LayerProbe<float>? probe, Action<EpochResult> afterEpoch)
    {
        IReadOnlyList<EpochResult> results = [];
        console.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                int epoch = resume is null ? 1 : resume.Epoch + 1;
                ProgressTask? task = null;
                int every = 1;
                // Cheap per batch: an integer test, and a locked field write about 200 times an epoch.
                void OnBatch(int b, int n)
                {
                    if (b == 0 || task is null)   // a resumed run starts mid-epoch
                    {
                        task = ctx.AddTask(string.Create(Inv, $"epoch {epoch}/{options.Epochs}"), maxValue: n);
                        every = Math.Max(1, n / 200);
                    }

                    if ((b + 1) % every == 0 || b == n - 1) task!.Value = b + 1;
                }

                void OnEpoch(EpochResult r)
                {
                    task?.StopTask();
                    console.Line(Report.EpochLine(r, options.Epochs, classification, testName));
                    afterEpoch(r);
                    epoch++;
                }

                results = Fit(network, train, test, options, resume, onCheckpoint, OnEpoch, OnBatch, probe);
            });
        return results;
    }

    /// <summary>What a checkpoint records of the command line: every option that shapes the model or its metadata
    /// (not --threads, --out or the checkpoint options), so that a resume with other options is refused.</summary>
    private static Dictionary<string, string> RunMetadata(TrainSettings s, NetworkSpec spec, Dataset train) => new()
    {
        ["run.network"] = spec.ToString(),
        ["run.data"] = string.Create(Inv, $"{train.Name} ({train.Count} rows)"),
        ["run.optimizer"] = s.OptimizerText,
        ["run.schedule"] = s.Schedule.ToString(),
        ["run.l2"] = s.L2.ToString("R", Inv),
        ["run.clip"] = s.ClipNorm?.ToString("R", Inv) ?? "none",
        ["run.init"] = Names.Of(s.Init),
        ["run.batch"] = s.Batch.ToString(Inv),
        ["run.epochs"] = s.Epochs.ToString(Inv),
        ["run.seed"] = s.Seed.ToString(Inv),
        ["run.preset"] = s.Preset ?? "none",
        ["run.micro-shards"] = s.MicroShards.ToString(Inv),
    };

    /// <summary>Loads <paramref name="path"/> and checks it was written by a run with these options.</summary>
    private static TrainingCheckpoint<float> LoadCheckpoint(string path, Dictionary<string, string> run)
    {
        var checkpoint = CheckpointFile.Load<float>(path);
        foreach (var (key, value) in run)
        {
            string what = key["run.".Length..];
            if (!checkpoint.Metadata.TryGetValue(key, out string? written) && key == "run.micro-shards")
                written = "1";   // written before micro-shards existed: unsharded
            if (written is null)
                throw new CliException($"{path} was not written by 'backprop train --checkpoint-every' (it records no {what})");
            if (written != value)
                throw new CliException($"{path} was written by a run with {what} {written}, but this run has {what} {value}; resume with the options of that run");
        }
        return checkpoint;
    }

    private static void Save(TrainSettings s, Network<float> network, Dataset train, Evaluation final, bool testIsTrain)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(s.Out));
        if (dir is not null) Directory.CreateDirectory(dir);
        var metadata = new Dictionary<string, string>
        {
            ["trained_on"] = train.Name,
            ["input_scaling"] = s.Data.IsCsv ? "none (raw CSV features)" : "pixel/255, white digit on black",
            ["task"] = s.Data.Regression ? "regression" : "classification",
            ["optimizer"] = s.OptimizerText,
            ["schedule"] = s.Schedule.ToString(),
            ["l2"] = s.L2.ToString(Inv),
            ["init"] = Names.Of(s.Init),
            ["batch"] = s.Batch.ToString(Inv),
            ["epochs"] = s.Epochs.ToString(Inv),
            ["seed"] = s.Seed.ToString(Inv),
            [testIsTrain ? "train_accuracy" : "test_accuracy"] = final.Accuracy.ToString("F4", Inv),
            [testIsTrain ? "train_loss" : "test_loss"] = final.Loss.ToString("R", Inv),
        };
        if (s.Preset is not null) metadata["preset"] = s.Preset;
        ModelFile.Save(s.Out, network.Spec, (ReadOnlySpan<float>)network.Parameters, metadata);
    }
}
