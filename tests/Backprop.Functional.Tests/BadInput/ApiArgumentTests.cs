using Xunit;

namespace Backprop.Functional.Tests.BadInput;

/// <summary>Public calls a hostile review (2026-11-28) found taking bad arguments silently, with the wrong exception or
/// with a wrong answer: each now a clear refusal, or the right number.</summary>
public sealed class ApiArgumentTests
{
    private static readonly NetworkSpec Small = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    [Fact]
    public void Evaluate_of_a_one_output_classifier_thresholds_at_a_half()
    {
        // Was: accuracy 1 for any one-output network (the arg-max of one value is always 0, output and target alike).
        var spec = NetworkSpec.Mlp([1, 1], ActivationKind.Tanh, ActivationKind.Sigmoid, LossKind.CrossEntropy);
        using var net = Network<double>.FromParameters(spec, [1.0, -2.5]);   // σ(x − 2.5): class 1 from x = 2.5 on
        int[] labels = [1, 1, 0, 0, 1];
        var data = Dataset.Create("binary", 5, 1, 1, [1f, 3f, 2f, 4f, 2.6f], [.. labels.Select(l => (float)l)], labels);
        var e = Trainer.Evaluate(net, data);
        // predicted 0, 1, 0, 1, 1 against 1, 1, 0, 0, 1: right on samples 1, 2 and 4
        Assert.Equal(3 / 5.0, e.Accuracy);
        Assert.Equal(2, e.Classes);
        Assert.Equal([1, 1, 1, 2], e.Confusion);   // [label × predicted]: (0,0) (0,1) (1,0) (1,1)
        Assert.Null(e.NonFinite);
        // the predictor classifies by the same rule
        using var predictor = net.CreatePredictor();
        Assert.Equal([0, 1, 0, 1, 1], new[] { 1.0, 3, 2, 4, 2.6 }.Select(v => predictor.Classify([v])));
    }

    [Fact]
    public void Evaluate_names_the_first_output_that_is_not_finite()
    {
        var spec = NetworkSpec.Mlp([1, 1], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);
        using var net = Network<double>.FromParameters(spec, [1e308, 0]);   // finite weights, 1e308 · 10 = ∞
        var data = Dataset.Create("d", 3, 1, 1, [0f, 0.5f, 10f], [0f, 0f, 0f]);
        var e = Trainer.Evaluate(net, data, batch: 2);   // the ∞ is in the second batch
        Assert.Equal("sample 2 gives Infinity at output 0", e.NonFinite);
    }

    [Fact]
    public void A_step_learning_rate_that_is_NaN_or_negative_is_refused_before_theta_changes()
    {
        using var net = Network<double>.Create(Small, seed: 1);
        using var ws = net.CreateWorkspace(1);
        var sgd = new Sgd(0.1);
        using var buffers = sgd.CreateBuffers<double>(net.Layout.Count);
        double[] x = [0.1, 0.2, 0.3, 0.4], y = [0, 1, 0];
        double[] before = net.Parameters.ToArray();
        foreach (double eta in new[] { double.NaN, -1.0, double.PositiveInfinity })
        {
            var state = new OptimizerState(0);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => net.TrainOnline(x, y, ws, sgd, ref state, buffers, learningRate: eta));
            Assert.Contains("learning rate", e.Message, StringComparison.Ordinal);
            Assert.Equal(0, state.Step);
        }
        Assert.Equal(before, net.Parameters.ToArray());
        double[] theta = [1, 2], g = [0.5, 0.5];
        using var adam = new Adam().CreateBuffers<double>(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam().Update(new OptimizerState(0), theta, g, adam, double.NaN));
        Assert.Equal([1.0, 2.0], theta);
    }

    [Fact]
    public void A_negative_step_count_is_refused_however_it_is_made()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerState(-5));
        var state = new OptimizerState(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => state with { Step = -1 });
        Assert.Equal(0, default(OptimizerState).Step);
        Assert.Equal(4, (state with { Step = 4 }).Step);
    }

    [Fact]
    public void Schedules_check_their_settings_when_constructed()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(10, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(-1));   // η would change sign every update
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealing(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealing(10, -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Warmup(-1, new ConstantRate()));
        Assert.Throws<ArgumentNullException>(() => new Warmup(5, null!));
        // `with` is checked too (a positional record's initialisers alone would let it through)
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(0.5) with { Gamma = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(2) with { StepSize = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealing(10) with { MinRate = double.NaN });
        Assert.Throws<ArgumentNullException>(() => new Warmup(5, new ConstantRate()) with { Then = null! });
        Assert.Equal(new ExponentialDecay(0.5), new ExponentialDecay(0.25) with { Gamma = 0.5 });   // value equality kept
        Assert.Equal(0.5, new StepDecay(2, 0.5).Rate(1, 2));   // the valid ones still give their closed forms
        Assert.Equal(0.25, new ExponentialDecay(0.5).Rate(1, 2));
    }

    [Fact]
    public void A_default_truncation_is_refused_not_divided_by()
    {
        // Was: DivideByZeroException (k₁ = 0 skipped the checks in the property initialisers).
        var e = Assert.Throws<ArgumentException>(() => default(Truncation).Windows(10));
        Assert.Contains("default(Truncation)", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new Truncation().Windows(10));
        Assert.Equal(3, Truncation.Of(4).Windows(12));
    }

    [Fact]
    public void Bptt_refuses_a_negative_window_and_a_time_no_input_can_hold()
    {
        var spec = new NetworkSpec([new Lstm(2, 3) { ReturnSequences = true, InitialState = InitialState.Carried },
            new Dense(3, 2, ActivationKind.Softmax) { PerStep = true }], LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, seed: 1);
        using var train = new TrainState<double>(net, new Sgd(0.1), batch: 1, time: 4);
        var x = new double[8];
        var y = new double[8];
        Assert.Throws<ArgumentOutOfRangeException>(() => Bptt.Step(net, x, y, train, Truncation.Of(4), window: -1));
        Assert.Throws<ArgumentException>(() => Bptt.Step(net, x, y, train, default, window: 0));
        using var g = net.CreateGradient();
        // Was: OverflowException from time · inputs
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Bptt.Gradient(net, x, y, int.MaxValue, Truncation.Of(int.MaxValue), g.Span));
        Assert.Contains("not one sequence of 2147483647 steps", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ode_span_or_interval_longer_than_a_double_is_refused()
    {
        // Was: NaN out of every solve, no error (the span's ends are finite, their difference is not).
        var f = OdeFunction.Create(2, false, (8, ActivationKind.Tanh), (2, ActivationKind.Identity));
        Assert.Throws<ArgumentException>(() => new OdeBlock(f, new RungeKutta4(4), start: -1e308, end: 1e308));
        Assert.Throws<ArgumentException>(() => new OdeTrajectory<double>(f, new RungeKutta4(4), [-1e308, 1e308], rows: 1));
        // Was: OverflowException from steps × intervals
        var times = Enumerable.Range(0, 30_000).Select(i => (double)i).ToArray();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new OdeTrajectory<double>(f, new RungeKutta4(100_000), times, rows: 1));
        Assert.Contains("100000 steps per interval × 29999 intervals", e.Message, StringComparison.Ordinal);
        // the adjoint stores only the boundaries: 200 steps × 999 intervals is fine (ode-demo's spiral at rk4:200);
        // discretise-then-optimise would store every step, and is bounded
        var thousand = Enumerable.Range(0, 1000).Select(i => i / 100.0).ToArray();
        _ = new OdeTrajectory<double>(f, new RungeKutta4(200), thousand, rows: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OdeTrajectory<double>(f, new RungeKutta4(200), thousand, rows: 1, OdeGradient.Discretise));
    }

    [Fact]
    public void An_ode_solve_from_a_non_finite_initial_state_names_where()
    {
        var f = OdeFunction.Create(2, false, (8, ActivationKind.Tanh), (2, ActivationKind.Identity));
        var trajectory = new OdeTrajectory<double>(f, new RungeKutta4(4), [0, 1], rows: 2);
        var theta = new double[f.ParameterCount];
        var states = new double[2 * 2 * 2];
        var e = Assert.Throws<ArgumentException>(() => trajectory.Solve(theta, [0, 0, double.NaN, 0], states));
        Assert.Contains("h₀ holds NaN at row 1, dimension 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_recurrent_workspace_of_another_network_is_refused_naming_both_layers()
    {
        // Was: "Specified argument was out of the range of valid values." from inside the LSTM, or silently wrong slices.
        var lstm = new NetworkSpec([new Lstm(4, 8), new Dense(8, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        var gru = new NetworkSpec([new Gru(4, 8), new Dense(8, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var lstmNet = Network<double>.Create(lstm, seed: 1);
        using var gruNet = Network<double>.Create(gru, seed: 1);
        using var gruWs = gruNet.CreateWorkspace(2, 1, 5);
        var x = new double[2 * 5 * 4];
        double[] y = [1, 0, 0, 0, 1, 0];
        var e = Assert.Throws<ArgumentException>(() => lstmNet.Cost(x, y, gruWs));
        Assert.Contains("its layer 0 is Gru", e.Message, StringComparison.Ordinal);
        Assert.Contains("is Lstm", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Recurrent.FinalState(lstm, gruWs, 0, 2));
        Assert.Throws<ArgumentException>(() => Recurrent.ResetState(lstm, gruWs, 2));
        // an equal spec built apart is the same network: its workspace is accepted
        var again = new NetworkSpec([new Lstm(4, 8), new Dense(8, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var againWs = new Workspace<double>(again.Layers, 2, 5);
        Assert.True(double.IsFinite(lstmNet.Cost(x, y, againWs)));
    }

    [Fact]
    public void Batcher_copy_checks_its_index_and_spans()
    {
        // Was: −10 rows for index 5, IndexOutOfRangeException for −1, a message-less exception for a short x.
        var batcher = new Batcher(Dataset.Create("d", 10, 1, 1, new float[10], new float[10]), 4, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => batcher.Copy<float>(3, new float[4], new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => batcher.Copy<float>(-1, new float[4], new float[4]));
        var e = Assert.Throws<ArgumentException>(() => batcher.Copy<float>(0, new float[2], new float[4]));
        Assert.Contains("x has 2 elements, fewer than batch 0's 4 rows × 1 features = 4", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, batcher.Copy<float>(2, new float[4], new float[4]));   // the last, short batch
    }

    [Fact]
    public void Smaller_arguments_are_checked()
    {
        var data = Dataset.Create("d", 3, 4, 3, new float[12], Dataset.OneHot([0, 1, 2], 3), [0, 1, 2]);
        using var net = Network<double>.Create(Small, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Trainer.Evaluate(net, data, batch: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Trainer.Fit(net, data, null, new TrainingOptions(Epochs: -1)).Complete());
        Assert.Throws<ArgumentOutOfRangeException>(() => Trainer.Fit(net, data, data, new TrainingOptions(EvaluationBatch: 0)).Complete());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => data.Slice(int.MaxValue, 0));
        Assert.Equal("start", e.ParamName);
        Assert.Throws<ArgumentNullException>(() => Recurrent.ResetState<double>(null!, null!, 1));
        using var cws = new CurvatureWorkspace<double>(Small, 3);
        var x = new double[12];
        double[] y = [1, 0, 0, 0, 1, 0, 0, 0, 1];
        var theta = net.Parameters.ToArray();
        Functional.Curvature.Forward<double>(Small, theta, x, cws);
        var v = new double[theta.Length];
        Assert.Throws<ArgumentOutOfRangeException>(() => Functional.Curvature.FisherVector<double>(Small, theta, x, y, cws, v, new double[theta.Length], (FisherKind)9));
    }
}
