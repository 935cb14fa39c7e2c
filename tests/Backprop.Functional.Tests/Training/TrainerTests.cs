using Xunit;

namespace Backprop.Functional.Tests.Training;

[Collection(RunsAlone.Name)]
public class TrainerTests
{
    /// <summary>Two Gaussian blobs per class in 4 dimensions, 3 classes, one-hot targets.</summary>
    internal static Dataset Blobs(int count, long seed)
    {
        var rng = new SeededRandom(seed);
        var x = new float[count * 4];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int c = rng.Next(3);
            labels[i] = c;
            for (int j = 0; j < 4; j++) x[i * 4 + j] = (float)(0.6 * rng.NextGaussian() + (j == c ? 2 : 0) - (j == 3 && c == 2 ? 1 : 0));
        }
        return Dataset.Create($"blobs{seed}", count, 4, 3, x, Dataset.OneHot(labels, 3), labels);
    }

    private static readonly NetworkSpec Spec = NetworkSpec.Mlp([4, 16, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    public static TheoryData<string> Optimizers => new() { "sgd", "momentum", "momentum-classic", "nesterov", "nesterov-mu-half", "nesterov-lookahead", "adagrad", "rmsprop", "adam", "adamw", "adadelta" };

    internal static Optimizer Make(string name) => name switch
    {
        "sgd" => new Sgd(0.1),
        "momentum" => new Momentum(0.05),
        "momentum-classic" => new Momentum(0.05, Form: MomentumForm.Classic),
        "nesterov" => new Nesterov(0.05),
        "nesterov-mu-half" => new Nesterov(0.02, Mu: 0.5),
        "nesterov-lookahead" => new Nesterov(0.05, Form: NesterovForm.LookAhead),
        "adagrad" => new Adagrad(0.1),
        "rmsprop" => new RmsProp(0.01),
        "adam" => new Adam(0.01),
        "adamw" => new AdamW(0.01),
        "adadelta" => new AdaDelta(1.0),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Fit_with_each_optimizer_lowers_the_loss_of_a_small_network(string optimizer)
    {
        var train = Blobs(300, 1);
        using var net = Network<float>.Create(Spec, seed: 3);
        var before = Trainer.Evaluate(net, train);
        using var results = Trainer.Fit(net, train, null, new TrainingOptions(Epochs: 5, BatchSize: 16, Optimizer: Make(optimizer)));
        results.Complete();                                         // Fit trains as its result is read
        var after = Trainer.Evaluate(net, train);
        Assert.True(after.Loss < 0.6 * before.Loss, $"{optimizer}: loss {before.Loss:F4} → {after.Loss:F4}");
        Assert.True(results[^1].TrainLoss < results[0].TrainLoss, $"{optimizer}: epoch losses {string.Join(", ", results.Select(r => r.TrainLoss.ToString("F4")))}");
    }

    [Fact]
    public void Fit_same_seed_gives_bit_identical_models_and_another_seed_does_not()
    {
        var train = Blobs(200, 2);
        float[] Run(long seed)
        {
            using var net = Network<float>.Create(Spec, seed: 5);
            Trainer.Fit(net, train, null, new TrainingOptions(Epochs: 3, BatchSize: 10, Seed: seed,
                Schedule: new CosineAnnealing(60), ClipNorm: 1.0, L2: 0.1)).Complete();
            return net.Parameters.ToArray();
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    /// <summary>Two threads split the large GEMMs (by columns of W for the forward pass, by rows of ∂C/∂W for the
    /// weight gradient) and the optimizer update (by halves of θ); every element is still computed by the same
    /// operations, so the model is the same bit for bit, and a steady-state step still allocates nothing.</summary>
    [Theory]
    [InlineData("adam")]
    [InlineData("momentum")]
    [InlineData("adadelta")]
    public void Fit_with_two_threads_gives_the_same_model_bit_for_bit(string optimizer)
    {
        var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var rng = new SeededRandom(9);
        var x = new float[256 * 784];
        var labels = new int[256];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(10);
        var data = Dataset.Create("noise", 256, 784, 10, x, Dataset.OneHot(labels, 10), labels);
        float[] Run(int threads)
        {
            using var net = Network<float>.Create(spec, seed: 3);
            Trainer.Fit(net, data, null, new TrainingOptions(Epochs: 2, BatchSize: 64, Optimizer: Make(optimizer), Threads: threads)).Complete();
            return net.Parameters.ToArray();
        }
        Assert.Equal(Run(1), Run(2));

        using var net2 = Network<float>.Create(spec, seed: 3);
        using var ws = net2.CreateWorkspace(64, threads: 2);
        using var g = net2.CreateGradient();
        var opt = Make(optimizer);
        using var buffers = opt.CreateBuffers<float>(net2.Layout.Count);
        var state = new OptimizerState(0);
        var options = new TrainingOptions(Optimizer: opt, Threads: 2);
        var xs = x[..(64 * 784)];
        var ys = data.Y[..(64 * 10)];
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net2, xs, ys, ws, g.Span, opt, ref state, buffers, options, 0f)));
    }

    [Fact]
    public void Fit_reports_accuracy_and_confusion_on_the_test_set()
    {
        var train = Blobs(600, 3);
        var test = Blobs(300, 4);
        using var net = Network<float>.Create(Spec, seed: 1);
        var results = Trainer.Fit(net, train, test, new TrainingOptions(Epochs: 5, BatchSize: 16, Optimizer: new Adam(0.01)));
        var e = results[^1].Test!;
        Assert.True(e.Accuracy > 0.9, $"accuracy {e.Accuracy}");
        Assert.Equal(300, e.Confusion.Sum());
        int diagonal = e.Confusion[0] + e.Confusion[4] + e.Confusion[8];
        Assert.Equal(e.Accuracy, diagonal / 300.0, 12);
    }

    [Fact]
    public void Fit_stops_on_a_non_finite_cost_before_the_update_and_names_the_step()
    {
        var train = Blobs(100, 5);
        var spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.ReLU, ActivationKind.Identity, LossKind.Quadratic);
        using var net = Network<float>.Create(spec, seed: 1);
        var e = Assert.Throws<NonFiniteException>(() =>
            Trainer.Fit(net, train, null, new TrainingOptions(Epochs: 50, BatchSize: 10, Optimizer: new Sgd(1e6), DivergenceFactor: null)).Complete());
        Assert.Contains("epoch", e.Message);
        Assert.Contains("step", e.Message);
        Assert.Contains("layer", e.Message);
        // The failing step's gradient never reached θ.
        Assert.DoesNotContain(net.Parameters.ToArray(), float.IsNaN);
    }

    [Theory]
    [InlineData(0)]   // the check at the epoch's end
    [InlineData(1)]   // the check before each checkpoint (here the same step)
    public void Fit_stops_when_an_epochs_last_update_leaves_theta_non_finite_and_names_the_tensor(int checkpointEvery)
    {
        // One batch an epoch and η = 1e308 (∞ in float): the cost before the update is finite, θ after it is not. Before
        // the check the run went on to evaluate (a NaN test loss), and a caller only learnt of it when saving.
        var train = Blobs(10, 7);
        using var net = Network<float>.Create(Spec, seed: 1);
        int checkpoints = 0;
        var e = Assert.Throws<NonFiniteException>(() => Trainer.Fit(net, train, Blobs(10, 8),
            new TrainingOptions(Epochs: 3, BatchSize: 10, Optimizer: new Sgd(1e308), DivergenceFactor: null, CheckpointEvery: checkpointEvery),
            resume: null, onCheckpoint: _ => checkpoints++));
        Assert.Equal((1, 1L), (e.Epoch, e.Step));
        Assert.Contains("epoch 1, step 1 (batch 1 of 1): its update left θ holding ", e.Message, StringComparison.Ordinal);
        Assert.Matches(@"in tensor layers\.\d\.(weight|bias) at index \d+", e.Message);
        Assert.InRange(e.Layer, 0, 1);
        Assert.Equal(0, checkpoints);   // never a checkpoint of the blown-up θ
    }

    [Theory]
    [InlineData(Evaluation.MaxConfusionClasses, true)]
    [InlineData(Evaluation.MaxConfusionClasses + 1, false)]
    [InlineData(65536, false)]   // classes² wrapped to 0 in int before the bound: an IndexOutOfRangeException
    public void Evaluate_keeps_a_confusion_matrix_up_to_its_bound_and_the_accuracy_always(int classes, bool kept)
    {
        int[] labels = [0, classes - 1, classes - 1];
        var data = Dataset.Create("wide", 3, 2, classes, [0.1f, 0.2f, 0.9f, 0.8f, 0.7f, 0.9f], Dataset.OneHot(labels, classes), labels);
        using var net = Network<float>.Create(NetworkSpec.Mlp([2, classes], ActivationKind.Identity, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), seed: 2);
        var e = Trainer.Evaluate(net, data);
        Assert.Equal(classes, e.Classes);
        Assert.Equal(kept ? classes * classes : 0, e.Confusion.Length);
        using var ws = net.CreateWorkspace(3);
        var a = net.Forward(data.X, ws).ToArray();
        int correct = Enumerable.Range(0, 3).Count(r => Trainer.ArgMax<float>(a.AsSpan(r * classes, classes)) == labels[r]);
        Assert.Equal(correct / 3.0, e.Accuracy);
        if (kept) Assert.Equal(correct, Enumerable.Range(0, classes).Sum(c => e.Confusion[c * classes + c]));
    }

    [Fact]
    public void Fit_ThrowsForDatasetThatDoesNotFitTheNetwork()
    {
        using var net = Network<float>.Create(NetworkSpec.Mlp([5, 3], ActivationKind.Identity, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 1);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Fit(net, Blobs(10, 1), null, new TrainingOptions()));
        Assert.Contains("[10 × 4]", e.Message);
        Assert.Contains("[5]", e.Message);
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Step_steady_state_allocates_nothing(string optimizer)
    {
        var train = Blobs(64, 6);
        using var net = Network<float>.Create(Spec, seed: 1);
        using var ws = net.CreateWorkspace(16);
        using var g = net.CreateGradient();
        var opt = Make(optimizer);
        using var buffers = opt.CreateBuffers<float>(net.Layout.Count);
        var options = new TrainingOptions(Schedule: new Warmup(5, new CosineAnnealing(100)), ClipNorm: 1.0, L2: 1.0);
        var state = new OptimizerState(0);
        var x = train.X[..(16 * 4)];
        var y = train.Y[..(16 * 3)];
        long calls = 0;
        long allocated = SteadyState.AllocatedBytes(() => { Trainer.Step(net, x, y, ws, g.Span, opt, ref state, buffers, options, 1e-3f); calls++; });
        Assert.Equal(0L, allocated);
        Assert.Equal(calls, state.Step);
    }
}
