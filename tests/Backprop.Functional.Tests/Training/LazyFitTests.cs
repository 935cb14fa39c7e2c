using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary><see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, FitHooks{T}?, CancellationToken)"/>
/// trains as its run is read, one epoch per element, and stops between steps when cancelled.</summary>
public class LazyFitTests
{
    private static readonly NetworkSpec Spec = NetworkSpec.Mlp([4, 16, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    [Fact]
    public void Each_epoch_is_yielded_before_the_next_one_trains()
    {
        var train = TrainerTests.Blobs(100, 1);   // batch 10: 10 steps per epoch
        using var net = Network<float>.Create(Spec, seed: 3);
        int steps = 0;
        var seen = new List<(int Epoch, int StepsSoFar)>();
        using var run = Trainer.Fit(net, train, null, new TrainingOptions(Epochs: 3, BatchSize: 10),
            new FitHooks<float>(OnBatch: (_, _) => steps++));
        Assert.Equal(0, steps);                                     // nothing trains until the run is read
        foreach (var epoch in run) seen.Add((epoch.Epoch, steps));
        Assert.Equal([(1, 10), (2, 20), (3, 30)], seen);
        Assert.True(run.IsComplete);
    }

    [Fact]
    public void Reading_the_run_again_replays_the_epochs_without_training()
    {
        var train = TrainerTests.Blobs(60, 2);
        using var net = Network<float>.Create(Spec, seed: 3);
        int steps = 0;
        using var run = Trainer.Fit(net, train, null, new TrainingOptions(Epochs: 2, BatchSize: 10),
            new FitHooks<float>(OnBatch: (_, _) => steps++));
        var first = run.ToArray();
        float[] theta = net.Parameters.ToArray();
        var second = run.ToArray();
        Assert.Equal(12, steps);
        Assert.Equal(first, second);                                // the same result objects
        Assert.Equal(2, run.Count);
        Assert.Same(first[^1], run[^1]);
        Assert.Equal(theta, net.Parameters.ToArray());
    }

    [Fact]
    public void Stopping_after_one_epoch_and_reading_on_continues_the_same_run()
    {
        var train = TrainerTests.Blobs(60, 2);
        var options = new TrainingOptions(Epochs: 3, BatchSize: 10, Seed: 4);
        using var whole = Network<float>.Create(Spec, seed: 3);
        Trainer.Fit(whole, train, null, options).Complete();
        using var net = Network<float>.Create(Spec, seed: 3);
        using var run = Trainer.Fit(net, train, null, options);
        foreach (var epoch in run) break;                             // one epoch, then the loop stops
        Assert.Single(run.Finished);
        Assert.False(run.IsComplete);
        Assert.Equal(3, run.Count);                                 // reads on: trains epochs 2 and 3
        Assert.Equal(whole.Parameters.ToArray(), net.Parameters.ToArray());
    }

    [Fact]
    public void Dispose_ends_the_run_where_it_stands()
    {
        var train = TrainerTests.Blobs(60, 2);
        using var net = Network<float>.Create(Spec, seed: 3);
        var run = Trainer.Fit(net, train, null, new TrainingOptions(Epochs: 3, BatchSize: 10));
        foreach (var epoch in run) break;
        run.Dispose();
        float[] theta = net.Parameters.ToArray();
        Assert.Single(run);
        Assert.True(run.IsComplete);
        Assert.Equal(theta, net.Parameters.ToArray());
    }

    [Fact]
    public void Cancelling_after_three_batches_stops_after_exactly_three_steps_with_a_consistent_theta()
    {
        var train = TrainerTests.Blobs(100, 3);
        using var net = Network<double>.Create(Spec, seed: 3);
        using var cancel = new CancellationTokenSource();
        var checkpoints = new List<TrainingCheckpoint<double>>();
        int steps = 0;
        var hooks = new FitHooks<double>(OnCheckpoint: checkpoints.Add, OnBatch: (_, _) => { if (++steps == 3) cancel.Cancel(); });
        using var run = Trainer.Fit(net, train, null, new TrainingOptions(Epochs: 2, BatchSize: 10, CheckpointEvery: 1), hooks, cancel.Token);

        Assert.Throws<OperationCanceledException>(() => run.Complete());
        Assert.Equal(3, steps);
        Assert.Equal(3, checkpoints[^1].Step);
        Assert.Equal(checkpoints[^1].Parameters, net.Parameters.ToArray());   // θ is step 3's, nothing after it
        Assert.Empty(run.Finished);
        Assert.Throws<OperationCanceledException>(() => run.Count);        // the run stays stopped
        Assert.Equal(3, steps);

        // The checkpoint of the cancelled run resumes to the uncancelled run's θ.
        using var whole = Network<double>.Create(Spec, seed: 3);
        var options = new TrainingOptions(Epochs: 2, BatchSize: 10, CheckpointEvery: 1);
        Trainer.Fit(whole, train, null, options).Complete();
        Trainer.Fit(net, train, null, options, new FitHooks<double>(Resume: checkpoints[^1])).Complete();
        Assert.Equal(whole.Parameters.ToArray(), net.Parameters.ToArray());
    }

    [Fact]
    public void A_cancelled_token_stops_before_the_first_step()
    {
        using var net = Network<float>.Create(Spec, seed: 3);
        float[] theta = net.Parameters.ToArray();
        using var run = Trainer.Fit(net, TrainerTests.Blobs(30, 1), null, new TrainingOptions(Epochs: 1, BatchSize: 10),
            cancellationToken: new CancellationToken(canceled: true));
        Assert.Throws<OperationCanceledException>(() => run.Complete());
        Assert.Equal(theta, net.Parameters.ToArray());
    }

    [Fact]
    public void A_run_that_is_never_read_trains_nothing_but_its_arguments_are_checked_at_once()
    {
        using var net = Network<float>.Create(Spec, seed: 3);
        float[] theta = net.Parameters.ToArray();
        using (Trainer.Fit(net, TrainerTests.Blobs(30, 1), null, new TrainingOptions(Epochs: 1))) { }
        Assert.Equal(theta, net.Parameters.ToArray());
        Assert.Throws<ArgumentException>(() => Trainer.Fit(net, TrainerTests.Blobs(0, 1), null, new TrainingOptions()));
    }
}
