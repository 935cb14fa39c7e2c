using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>A diverging run stops, naming the step and the layer, instead of running to the end.</summary>
public class DivergenceTests
{
    /// <summary>One linear unit on x = 1, y = 0: C = ½(w + b)², and SGD with η = 1.5 maps s = w + b to −2s, so the cost
    /// grows ×4 per step and stays finite for a long time. With 64 rows and batches of 16 the running mean passes 10 C₀
    /// at step 4: C₀, 4C₀, 16C₀ give C̄ = 1, 1.75, 5.3, then 64C₀ gives 20 C₀.</summary>
    private static (Network<float> Net, Dataset Data) Growing()
    {
        var spec = new NetworkSpec([new Dense(1, 1)], LossKind.Quadratic);
        var data = Dataset.Create("ones", 64, 1, 1, Enumerable.Repeat(1f, 64).ToArray(), new float[64]);
        return (Network<float>.FromParameters(spec, [0.5f, 0.25f]), data);
    }

    [Fact]
    public void A_finite_cost_far_above_its_start_stops_at_the_step_it_crosses_and_names_the_layer()
    {
        var (net, data) = Growing();
        using var _ = net;
        var e = Assert.Throws<TrainingDivergedException>(() =>
            Trainer.Fit(net, data, null, new TrainingOptions(Epochs: 5, BatchSize: 16, Optimizer: new Sgd(1.5))).Complete());
        Assert.IsNotType<NonFiniteException>(e);
        Assert.Equal(4, e.Step);
        Assert.Equal(1, e.Epoch);
        Assert.Equal(0, e.Layer);
        Assert.Contains("step 4", e.Message);
        Assert.Contains("10 × the starting cost", e.Message);
        Assert.Contains("layer 0", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_threshold_is_settable_and_null_turns_the_check_off()
    {
        var (net, data) = Growing();
        using var _ = net;
        var e = Assert.Throws<TrainingDivergedException>(() =>
            Trainer.Fit(net, data, null, new TrainingOptions(Epochs: 5, BatchSize: 16, Optimizer: new Sgd(1.5), DivergenceFactor: 1000)).Complete());
        Assert.True(e.Step > 4, $"a higher threshold stops later, not at step {e.Step}");

        var (net2, _) = Growing();
        using var __ = net2;
        var results = Trainer.Fit(net2, data, null, new TrainingOptions(Epochs: 5, BatchSize: 16, Optimizer: new Sgd(1.5), DivergenceFactor: null));
        Assert.Equal(5, results.Count);
        Assert.True(results[^1].TrainLoss > 1e6 * results[0].TrainLoss);
    }

    [Fact]
    public void A_huge_learning_rate_on_a_classifier_stops_early()
    {
        var spec = NetworkSpec.Mlp([4, 16, 3], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        var e = Assert.ThrowsAny<TrainingDivergedException>(() =>
            Trainer.Fit(net, TrainerTests.Blobs(512, 3), null, new TrainingOptions(Epochs: 20, BatchSize: 16, Optimizer: new Adam(1e6))).Complete());
        Assert.True(e.Step is > 0 and <= 100, $"stopped at step {e.Step} of 640: {e.Message}");
        Assert.InRange(e.Layer, 0, 1);
    }

    /// <summary>Batch size 1 on a healthy run: single samples cost far more than the mean at times, the running mean
    /// does not.</summary>
    [Fact]
    public void A_healthy_online_run_is_not_stopped()
    {
        var spec = NetworkSpec.Mlp([4, 16, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 2);
        var results = Trainer.Fit(net, TrainerTests.Blobs(600, 4), null, new TrainingOptions(Epochs: 3, BatchSize: 1, Optimizer: new Sgd(0.05)));
        Assert.True(results[^1].TrainLoss < results[0].TrainLoss);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_factor_that_is_not_positive_and_finite_is_refused(double factor)
    {
        var (net, data) = Growing();
        using var _ = net;
        Assert.Throws<ArgumentOutOfRangeException>(() => Trainer.Fit(net, data, null, new TrainingOptions(DivergenceFactor: factor)));
    }
}
