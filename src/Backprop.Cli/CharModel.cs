using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary>What <c>backprop train --task chars</c> was asked for.</summary>
internal sealed record CharSettings(string? TextFile, string Model, int Units, int Bptt, int Batch, int Epochs, long? MaxChars,
    Optimizer Optimizer, double? Clip, long Seed, int Threads, string Out, int SampleLength, double Temperature, double? DivergenceFactor = 10);

/// <summary>A character-level language model trained by truncated BPTT on a text (Debian's bible-kjv-text by default):
/// a recurrent layer that carries its state from block to block and a softmax head at every step. After each epoch it
/// prints the validation bits per character and a sample; <c>backprop sample</c> generates from the saved model.</summary>
internal static class CharModel
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    internal const string VocabularyKey = "vocabulary";

    public static NetworkSpec Spec(string model, int vocabulary, int units)
    {
        Layer cell = model switch
        {
            "gru" => new Gru(vocabulary, units) { ReturnSequences = true, InitialState = InitialState.Carried },
            "rnn" => new Rnn(vocabulary, units) { ReturnSequences = true, InitialState = InitialState.Carried },
            "rnn-relu" => new Rnn(vocabulary, units, ActivationKind.ReLU) { ReturnSequences = true, InitialState = InitialState.Carried },
            _ => new Lstm(vocabulary, units) { ReturnSequences = true, InitialState = InitialState.Carried },
        };
        return new NetworkSpec([cell, new Dense(units, vocabulary, ActivationKind.Softmax) { PerStep = true }], LossKind.SoftmaxCrossEntropy);
    }

    public static int Train(CharSettings s, IAnsiConsole console, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(console);
        OutputPath.Check(s.Out);
        string path = KjvDownload.LocateOrFetch(s.TextFile, log);
        var corpus = s.MaxChars is { } max ? CharCorpus.Load(path, (int)max) : CharCorpus.Load(path);   // one read each: a pipe drains
        const double validationFraction = 0.05;
        if (Math.Round(validationFraction * corpus.Length, MidpointRounding.AwayFromZero) < 1)
            throw new CliException(string.Create(Inv, $"{path}: {corpus.Length} characters (after --max-chars) are too few to keep {validationFraction:P0} of them for validation"));
        var (train, validation) = corpus.Split(validationFraction);
        var spec = Spec(s.Model, corpus.VocabularySize, s.Units);
        using var net = Network<float>.Create(spec, s.Seed, Initialization.PyTorch);
        GradientTransform chain = s.Clip is { } clip ? Transforms.Chain(new ClipByGlobalNorm(clip), s.Optimizer) : s.Optimizer;
        using var state = new TrainState<float>(net, chain, s.Batch, s.Threads, s.Bptt);
        var streams = new CharStreams(train, s.Batch);
        int blocks = streams.Blocks(s.Bptt);
        if (blocks < 1) throw new CliException($"the training text ({train.Length:N0} characters) is too short for {s.Batch} streams of at least {s.Bptt + 1} characters");
        int v = corpus.VocabularySize;
        var x = new float[s.Batch * s.Bptt * v];
        var y = new float[s.Batch * s.Bptt * v];
        var truncation = Truncation.Of(s.Bptt);
        console.Line(string.Create(Inv, $"{spec} on {Path.GetFileName(path)}: {train.Length:N0} characters to train on, {validation.Length:N0} to validate, vocabulary {v}"));
        console.Line(string.Create(Inv, $"truncated BPTT k = {s.Bptt}, {s.Batch} streams, {blocks:N0} blocks per epoch, {Names.Of(s.Optimizer)}{(s.Clip is { } c2 ? $", clip {c2}" : "")}"));
        double bpc = double.NaN;
        var rng = new SeededRandom(s.Seed + 17);
        // --divergence-factor, as for MNIST: C̄ ← C̄ + (C − C̄)/16 over the blocks (about the last 16), started at the first
        // block's cost C₀ (≈ ln V at initialisation); diverged when C̄ > X·C₀, and then the model is not saved.
        double start = double.NaN, running = double.NaN;
        for (int epoch = 1; epoch <= s.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            Recurrent.ResetState(spec, state.Workspace, s.Batch);
            double sum = 0;
            for (int b = 0; b < blocks; b++)
            {
                streams.Fill<float>(b, s.Bptt, x, y);
                float cost = Bptt.Step(net, x, y, state, truncation, b);
                if (!float.IsFinite(cost)) throw new CliException(string.Create(Inv, $"epoch {epoch}, block {b}: the cost became {cost}; the model was not saved (try --clip or a smaller --lr)"));
                if (double.IsNaN(start)) start = running = cost;
                running += (cost - running) / 16;
                if (s.DivergenceFactor is { } factor && start > 0 && running > factor * start)
                    throw new CliException(string.Create(Inv,
                        $"epoch {epoch}, block {b}: the running mean cost {running:G4} rose above {factor} × the starting cost {start:G4}; the model was not saved (try a smaller --lr, or --divergence-factor 0 to turn the check off)"));
                sum += cost;
            }
            double seconds = clock.Elapsed.TotalSeconds;
            bpc = ValidationBits(net, validation, s.Bptt);
            console.Line(string.Create(Inv,
                $"epoch {epoch}/{s.Epochs}  train {CharCorpus.BitsPerCharacter(sum / blocks):F3} bits/char  validation {bpc:F3} bits/char  {seconds:F1} s ({(double)blocks * s.Batch * s.Bptt / seconds:N0} chars/s)"));
            console.Line("sample: " + Printable(Sample(net, corpus, s.SampleLength, s.Temperature, ref rng)));
        }
        string? dir = Path.GetDirectoryName(Path.GetFullPath(s.Out));
        if (dir is not null) Directory.CreateDirectory(dir);
        ModelFile.Save(s.Out, net, new Dictionary<string, string>
        {
            [VocabularyKey] = corpus.Vocabulary,
            ["trained_on"] = Path.GetFileName(path),
            ["task"] = "character language model (truncated BPTT)",
            ["bptt"] = s.Bptt.ToString(Inv),
            ["validation_bits_per_char"] = bpc.ToString("F4", Inv),
            ["epochs"] = s.Epochs.ToString(Inv),
            ["seed"] = s.Seed.ToString(Inv),
        });
        console.Line($"model saved to {s.Out}");
        return ExitCodes.Ok;
    }

    /// <summary>Bits per character on the validation text: one stream, blocks of <paramref name="time"/> steps, the state
    /// carried across blocks, the mean cross-entropy over every predicted character.</summary>
    public static double ValidationBits(Network<float> net, CharCorpus validation, int time)
    {
        var streams = new CharStreams(validation, 1);
        int blocks = streams.Blocks(time);
        if (blocks < 1) return double.NaN;
        int v = validation.VocabularySize;
        var x = new float[time * v];
        var y = new float[time * v];
        using var ws = net.CreateWorkspace(1, 1, time);
        ws.KeepWeights();   // θ is fixed while validating
        Recurrent.ResetState(net.Spec, ws, 1);
        double sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            streams.Fill<float>(b, time, x, y);
            sum += net.Cost(x, y, ws);
            Recurrent.CarryOver(net.Spec, ws, 1);
        }
        return CharCorpus.BitsPerCharacter(sum / blocks);
    }

    /// <summary>The most characters <c>sample --length</c> and <c>train --task chars --sample-length</c> generate.</summary>
    public const int MaxSampleLength = 10_000_000;

    /// <summary>Generates <paramref name="length"/> characters one step at a time, the state carried, each drawn from
    /// the softmax at temperature τ, p ∝ p_model^(1/τ) = exp((log p_model − max log p_model)/τ): the largest term is 1,
    /// so no τ &gt; 0 underflows them all, and as τ → 0 the draw becomes the arg-max. Starts from a newline (or the first
    /// character).</summary>
    /// <exception cref="CliException">The model's output holds NaN or ±∞ (names the step).</exception>
    public static string Sample(Network<float> net, CharCorpus corpus, int length, double temperature, ref SeededRandom rng)
    {
        int v = corpus.VocabularySize;
        using var ws = net.CreateWorkspace(1, 1, 1);
        ws.KeepWeights();   // θ does not change while sampling: the LSTM packs its weights once, not per character
        Recurrent.ResetState(net.Spec, ws, 1);
        var x = new float[v];
        var p = new double[v];
        int current = Math.Max(0, corpus.IndexOf('\n'));
        var text = new System.Text.StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            Array.Clear(x);
            x[current] = 1;
            var a = net.Forward(x, ws);
            Recurrent.CarryOver(net.Spec, ws, 1);
            double top = double.NegativeInfinity;
            for (int j = 0; j < v; j++)
            {
                if (!float.IsFinite(a[j]) || a[j] < 0)
                    throw new CliException(string.Create(Inv, $"the model's output holds {a[j]} (character {j}) at sampled character {i + 1}: its weights do not give a distribution"));
                top = Math.Max(top, Math.Log(a[j]));   // log 0 = −∞: that character gets weight 0
            }
            if (top == double.NegativeInfinity)
                throw new CliException(string.Create(Inv, $"the model's output is 0 for every character at sampled character {i + 1}: its weights do not give a distribution"));
            double total = 0;
            int last = 0;
            for (int j = 0; j < v; j++)
            {
                total += p[j] = Math.Exp((Math.Log(a[j]) - top) / temperature);
                if (p[j] > 0) last = j;
            }
            double u = rng.NextDouble() * total;
            current = last;   // u ≥ the rounded running sum: the last character with weight, never one without
            for (int j = 0; j < v; j++)
            {
                u -= p[j];
                if (u < 0) { current = j; break; }
            }
            text.Append(corpus.Vocabulary[current]);
        }
        return text.ToString();
    }

    private static string Printable(string s) => s.ReplaceLineEndings(" ⏎ ");

    /// <summary><c>backprop sample --model m --length 500 --temperature 0.8</c>.</summary>
    public static Command SampleCommand(IAnsiConsole console)
    {
        var model = new Option<string>("--model") { Description = "Character model written by 'backprop train --task chars'", HelpName = "FILE", Required = true };
        var length = new Option<int?>("--length") { Description = "Characters to generate [default: 500]", HelpName = "N" };
        var temperature = new Option<double?>("--temperature") { Description = "Softmax temperature τ > 0: lower is more conservative [default: 0.8]", HelpName = "τ" };
        var seed = new Option<long?>("--seed") { Description = "Seed of the draws [default: 0]", HelpName = "N" };
        var command = new Command("sample", "Generate text from a character-level language model") { model, length, temperature, seed };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(length) ?? 500;
            double t = parse.GetValue(temperature) ?? 0.8;
            if (n < 1 || n > MaxSampleLength) throw new UsageException(string.Create(Inv, $"--length must be 1 … {MaxSampleLength}"));
            if (!(t > 0 && double.IsFinite(t))) throw new UsageException("--temperature must be a positive number");
            string path = parse.GetValue(model)!;
            var loaded = ModelLoading.LoadWithMetadata(path);
            using var net = loaded.ToNetwork();
            if (!loaded.Metadata.TryGetValue(VocabularyKey, out string? vocabulary) || vocabulary.Length != net.Spec.Outputs)
                throw new CliException($"{path} is not a character model: it has no vocabulary of {net.Spec.Outputs} characters in its metadata (train one with 'backprop train --task chars')");
            // the corpus indexes characters by their place in its sorted, distinct vocabulary: the metadata must be that
            // (else characters would be read and written under the wrong indices), and the one-hot input as wide
            var corpus = new CharCorpus(vocabulary);
            if (corpus.Vocabulary != vocabulary || net.Spec.Inputs != vocabulary.Length)
                throw new CliException(string.Create(Inv, $"{path}: its vocabulary metadata is not {vocabulary.Length} distinct characters in code-point order for a network that reads {net.Spec.Inputs} and writes {net.Spec.Outputs} (the file was changed, or not written by 'backprop train --task chars')"));
            var rng = new SeededRandom(parse.GetValue(seed) ?? 0);
            console.WriteLine(Sample(net, corpus, n, t, ref rng));
            return ExitCodes.Ok;
        });
        return command;
    }
}
