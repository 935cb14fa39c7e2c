using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>A run resumed from any of its checkpoints, through a file, ends with the same θ bit for bit.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly NetworkSpec Spec = NetworkSpec.Mlp([4, 16, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    public static TheoryData<string> Runs => new() { "adam-warmup-cosine", "adamw-step", "nesterov-lookahead", "adagrad", "sgd", "momentum-online", "chain" };

    private static TrainingOptions Options(string run) => run switch
    {
        // 100 rows, batch 16: 7 batches an epoch, the last of 4 rows; checkpoints every 3 steps fall mid-epoch and on
        // an epoch's last batch.
        "adam-warmup-cosine" => new(Epochs: 4, BatchSize: 16, Seed: 3, Optimizer: new Adam(0.01), Schedule: new Warmup(5, new CosineAnnealing(23)),
            ClipNorm: 1.0, L2: 0.1, CheckpointEvery: 3),
        "adamw-step" => new(Epochs: 3, BatchSize: 16, Seed: 4, Optimizer: new AdamW(0.01), Schedule: new StepDecay(5, 0.5), CheckpointEvery: 2),
        "nesterov-lookahead" => new(Epochs: 3, BatchSize: 16, Seed: 5, Optimizer: new Nesterov(0.05, Form: NesterovForm.LookAhead), CheckpointEvery: 4),
        "adagrad" => new(Epochs: 3, BatchSize: 16, Seed: 6, Optimizer: new Adagrad(0.1), CheckpointEvery: 7),
        "sgd" => new(Epochs: 3, BatchSize: 16, Seed: 7, Optimizer: new Sgd(0.1), CheckpointEvery: 5),
        "momentum-online" => new(Epochs: 2, BatchSize: 1, Seed: 8, Optimizer: new Adam(0.01), CheckpointEvery: 37),
        // A transform chain with two members that keep moments (Momentum's 1, then Adam's 2): each gets its share back.
        "chain" => new(Epochs: 3, BatchSize: 16, Seed: 10, CheckpointEvery: 4,
            Transform: Transforms.Chain(new StepDecay(5, 0.5), new ClipByGlobalNorm(1), new WeightDecay(1e-3), new Momentum(0.02), new Adam(0.01))),
        _ => throw new ArgumentException(run),
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public void Resuming_from_every_checkpoint_file_gives_the_same_model_bit_for_bit(string run)
    {
        var train = TrainerTests.Blobs(100, 1);
        var test = TrainerTests.Blobs(40, 2);
        var options = Options(run);
        var checkpoints = new List<TrainingCheckpoint<float>>();
        using var net = Network<float>.Create(Spec, seed: 9);
        var expected = Trainer.Fit(net, train, test, options, resume: null, onCheckpoint: checkpoints.Add);
        float[] theta = net.Parameters.ToArray();
        Assert.NotEmpty(checkpoints);

        foreach (var checkpoint in checkpoints)
        {
            string path = Path.Combine(_dir, $"{run}-{checkpoint.Step}.safetensors");
            CheckpointFile.Save(path, checkpoint);
            var loaded = CheckpointFile.Load<float>(path);
            using var again = Network<float>.Create(Spec, seed: 1234);   // θ comes from the checkpoint
            var resumed = Trainer.Fit(again, train, test, options, loaded, onCheckpoint: null);
            Assert.True(theta.AsSpan().SequenceEqual(again.Parameters), $"{run}: resumed from step {checkpoint.Step}, θ differs");
            Assert.Equal(expected.Select(r => r.TrainLoss), resumed.Select(r => r.TrainLoss));
            Assert.Equal(expected.Select(r => r.Test!.Loss), resumed.Select(r => r.Test!.Loss));
            Assert.Equal(expected[^1].Test!.Confusion, resumed[^1].Test!.Confusion);
            Assert.Equal(expected[0].Test!.Confusion, resumed[0].Test!.Confusion);
        }
    }

    [Fact]
    public void Resuming_in_double_precision_gives_the_same_model_bit_for_bit()
    {
        var train = TrainerTests.Blobs(100, 1);
        var options = Options("adam-warmup-cosine");
        var checkpoints = new List<TrainingCheckpoint<double>>();
        using var net = Network<double>.Create(Spec, seed: 9);
        Trainer.Fit(net, train, null, options, null, checkpoints.Add);
        var checkpoint = checkpoints[checkpoints.Count / 2];
        string path = Path.Combine(_dir, "double.safetensors");
        CheckpointFile.Save(path, checkpoint);
        using var again = Network<double>.Create(Spec, seed: 1);
        Trainer.Fit(again, train, null, options, CheckpointFile.Load<double>(path), null);
        Assert.True(net.Parameters.SequenceEqual(again.Parameters));
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load<float>(path));
        Assert.Contains("dtype F64, expected F32", e.Message);
    }

    private (TrainingCheckpoint<float> Checkpoint, string Path) OneCheckpoint(string name = "one.safetensors")
    {
        var checkpoints = new List<TrainingCheckpoint<float>>();
        using var net = Network<float>.Create(Spec, seed: 9);
        Trainer.Fit(net, TrainerTests.Blobs(100, 1), TrainerTests.Blobs(20, 2), Options("adam-warmup-cosine"), null, checkpoints.Add);
        var c = checkpoints[^2];
        string path = Path.Combine(_dir, name);
        CheckpointFile.Save(path, c, new Dictionary<string, string> { ["note"] = "kept" });
        return (c, path);
    }

    [Fact]
    public void Metadata_round_trips_and_reserved_keys_are_refused()
    {
        var (c, path) = OneCheckpoint();
        var loaded = CheckpointFile.Load<float>(path);
        Assert.Equal("kept", loaded.Metadata["note"]);
        Assert.Equal(c.Step, loaded.Step);
        Assert.Equal(c.ShuffleState, loaded.ShuffleState);
        Assert.Equal(c.Order, loaded.Order);
        Assert.Equal(c.Moments, loaded.Moments);
        Assert.Throws<ArgumentException>(() => CheckpointFile.Save(Path.Combine(_dir, "x"), c, new Dictionary<string, string> { ["step"] = "1" }));
        Assert.False(File.Exists(Path.Combine(_dir, "x")));
    }

    /// <summary>Every byte of a small checkpoint flipped in turn: each damaged file is refused with
    /// InvalidDataException and a reason, never loaded and never another exception.</summary>
    [Fact]
    public void Every_flipped_byte_and_every_truncation_is_refused_with_a_reason()
    {
        var (_, path) = OneCheckpoint();
        byte[] good = File.ReadAllBytes(path);
        string damaged = Path.Combine(_dir, "damaged.safetensors");
        var rng = new SeededRandom(1);
        var reasons = new HashSet<string>();
        for (int i = 0; i < good.Length; i++)
        {
            byte[] bytes = (byte[])good.Clone();
            bytes[i] ^= (byte)(1 << rng.Next(8));
            File.WriteAllBytes(damaged, bytes);
            var e = Record.Exception(() => CheckpointFile.Load<float>(damaged));
            Assert.True(e is InvalidDataException, $"byte {i} ({good[i]} → {bytes[i]}, '{(char)good[i]}' → '{(char)bytes[i]}'): {e?.GetType().Name ?? "loaded"} {e?.Message}");
            Assert.StartsWith($"{damaged} is not a valid checkpoint: ", e!.Message);
            reasons.Add(string.Join(' ', e.Message[$"{damaged} is not a valid checkpoint: ".Length..].Split(' ').Take(2)));
        }
        foreach (int length in new[] { 0, 7, 8, 100, good.Length / 2, good.Length - 1 })
        {
            File.WriteAllBytes(damaged, good[..length]);
            Assert.Throws<InvalidDataException>(() => CheckpointFile.Load<float>(damaged));
        }
        Assert.True(reasons.Count > 3, string.Join(" | ", reasons));
    }

    [Fact]
    public void A_changed_parameter_is_caught_by_the_checksum()
    {
        var (_, path) = OneCheckpoint();
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 1;   // the last byte of the data section
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load<float>(path));
        Assert.Contains("sha256", e.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_run_is_refused_naming_what_differs()
    {
        var (c, _) = OneCheckpoint();
        var train = TrainerTests.Blobs(100, 1);
        using var net = Network<float>.Create(Spec, seed: 9);
        var options = Options("adam-warmup-cosine");
        Assert.Contains("batch size 16", Assert.Throws<ArgumentException>(() => Trainer.Fit(net, train, null, options with { BatchSize = 10 }, c, null)).Message);
        Assert.Contains("Adam", Assert.Throws<ArgumentException>(() => Trainer.Fit(net, train, null, options with { Optimizer = new Sgd() }, c, null)).Message);
        Assert.Contains("rows", Assert.Throws<ArgumentException>(() => Trainer.Fit(net, TrainerTests.Blobs(90, 1), null, options, c, null)).Message);
        Assert.Contains("epochs", Assert.Throws<ArgumentException>(() => Trainer.Fit(net, train, null, options with { Epochs = 1 }, c, null)).Message);
        using var other = Network<float>.Create(NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 1);
        Assert.Throws<ArgumentException>(() => Trainer.Fit(other, train, null, options, c, null));
    }

    [Fact]
    public void A_checkpoint_is_written_atomically_over_an_older_one()
    {
        var (c, path) = OneCheckpoint();
        CheckpointFile.Save(path, c with { Step = c.Step });
        Assert.Single(Directory.GetFiles(_dir));
        Assert.Equal(c.Step, CheckpointFile.Load<float>(path).Step);
    }
}
