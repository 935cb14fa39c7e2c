using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

public class ParseTests
{
    [Fact]
    public void No_options_give_the_documented_default_run()
    {
        var s = TrainCommand.Parse();
        Assert.Null(s.Layers);
        Assert.Equal([784, 128, 10], s.LayersFor(784, 10));
        Assert.Equal(ActivationKind.ReLU, s.Hidden);
        Assert.Equal(ActivationKind.Softmax, s.Output);
        Assert.Equal(LossKind.SoftmaxCrossEntropy, s.Loss);
        Assert.Equal(new Adam(1e-3), s.Optimizer);
        Assert.Equal((64, 5, 0L, 1), (s.Batch, s.Epochs, s.Seed, s.Threads));
        Assert.Equal(Initialization.He, s.Init);
        Assert.Equal(0, s.L2);
        Assert.Null(s.ClipNorm);
        Assert.Null(s.Schedule.Build(1000));
        Assert.Equal("model.safetensors", s.Out);
        Assert.False(s.Data.IsCsv);
        Assert.Null(s.Data.MnistDir);
        Assert.Null(s.Preset);
    }

    [Fact]
    public void Preset_nielsen_is_the_chapter_1_network()
    {
        var s = TrainCommand.Parse("--preset", "nielsen");
        Assert.Equal([784, 30, 10], s.Layers!);
        Assert.Equal((ActivationKind.Sigmoid, ActivationKind.Sigmoid, LossKind.Quadratic), (s.Hidden, s.Output, s.Loss));
        Assert.Equal(new Sgd(3.0), s.Optimizer);
        Assert.Equal((10, 30), (s.Batch, s.Epochs));
        Assert.Equal(Initialization.Nielsen, s.Init);
        Assert.Equal(0, s.L2);
        Assert.Equal("nielsen", s.Preset);
    }

    [Fact]
    public void Preset_nielsen_ch3_is_the_chapter_3_network()
    {
        var s = TrainCommand.Parse("--preset", "nielsen-ch3");
        Assert.Equal([784, 100, 10], s.Layers!);
        Assert.Equal((ActivationKind.Sigmoid, ActivationKind.Sigmoid, LossKind.CrossEntropy), (s.Hidden, s.Output, s.Loss));
        Assert.Equal(new Sgd(0.5), s.Optimizer);
        Assert.Equal(5.0, s.L2);
        Assert.Equal((10, 30), (s.Batch, s.Epochs));
        Assert.Equal(Initialization.Nielsen, s.Init);
    }

    [Fact]
    public void Explicit_options_override_the_preset_and_keep_the_rest()
    {
        var s = TrainCommand.Parse("--preset", "nielsen", "--epochs", "3", "--lr", "1.5", "--init", "xavier", "--layers", "784-50-10");
        Assert.Equal(3, s.Epochs);
        Assert.Equal(new Sgd(1.5), s.Optimizer);
        Assert.Equal(Initialization.Xavier, s.Init);
        Assert.Equal([784, 50, 10], s.Layers!);
        Assert.Equal(10, s.Batch);
        Assert.Equal(LossKind.Quadratic, s.Loss);
    }

    [Fact]
    public void Another_optimizer_than_the_presets_takes_its_own_default_rate()
    {
        var s = TrainCommand.Parse("--preset", "nielsen", "--optimizer", "adam");
        Assert.Equal(new Adam(1e-3), s.Optimizer);
    }

    [Theory]
    [InlineData("sgd", typeof(Sgd), 0.01)]
    [InlineData("momentum", typeof(Momentum), 0.01)]
    [InlineData("nesterov", typeof(Nesterov), 0.01)]
    [InlineData("adagrad", typeof(Adagrad), 0.01)]
    [InlineData("rmsprop", typeof(RmsProp), 0.01)]
    [InlineData("adam", typeof(Adam), 1e-3)]
    [InlineData("adamw", typeof(AdamW), 1e-3)]
    [InlineData("adadelta", typeof(AdaDelta), 1.0)]
    public void Every_optimizer_is_reachable_with_torch_default_rate(string name, Type type, double lr)
    {
        var o = TrainCommand.Parse("--optimizer", name).Optimizer;
        Assert.IsType(type, o);
        Assert.Equal(lr, o.LearningRate);
    }

    [Fact]
    public void Optimizer_hyper_parameters_reach_the_record()
    {
        Assert.Equal(new Adam(0.002, 0.8, 0.99, 1e-6, WeightDecay: 0.1),
            TrainCommand.Parse("--lr", "0.002", "--beta1", "0.8", "--beta2", "0.99", "--eps", "1e-6", "--weight-decay", "0.1").Optimizer);
        Assert.Equal(new Momentum(0.1, 0.5), TrainCommand.Parse("--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.5").Optimizer);
        Assert.Equal(new AdamW(WeightDecay: 0.01), TrainCommand.Parse("--optimizer", "adamw").Optimizer);
        Assert.Equal(new RmsProp(0.01, 0.9, 1e-8, 0.5), TrainCommand.Parse("--optimizer", "rmsprop", "--alpha", "0.9", "--momentum", "0.5").Optimizer);
    }

    [Fact]
    public void Schedules_are_built_over_the_whole_run()
    {
        Assert.Equal(new Warmup(100, new CosineAnnealing(900)), TrainCommand.Parse("--schedule", "cosine", "--warmup", "100").Schedule.Build(1000));
        Assert.Equal(new StepDecay(500, 0.5), TrainCommand.Parse("--schedule", "step", "--step-size", "500", "--gamma", "0.5").Schedule.Build(1000));
        Assert.Equal(new ExponentialDecay(0.999), TrainCommand.Parse("--schedule", "exp", "--gamma", "0.999").Schedule.Build(1000));
    }

    [Fact]
    public void Output_activation_picks_the_matching_loss()
    {
        Assert.Equal(LossKind.CrossEntropy, TrainCommand.Parse("--output", "sigmoid").Loss);
        Assert.Equal(LossKind.Quadratic, TrainCommand.Parse("--output", "identity").Loss);
        var r = TrainCommand.Parse("--csv", "x.csv", "--label-column", "y", "--regression");
        Assert.Equal((ActivationKind.Identity, LossKind.Quadratic), (r.Output, r.Loss));
        Assert.True(r.Data.Regression);
    }

    [Fact]
    public void A_bad_number_is_named_in_words()
    {
        var r = Cli.Run("train", "--epochs", "many");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("'many' for option '--epochs' as a whole number", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", r.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("train", "--bogus")]
    [InlineData("train", "--epochs", "0")]
    [InlineData("train", "--epochs", "many")]
    [InlineData("train", "--optimizer", "lbfgs")]
    [InlineData("train", "--hidden", "softmax")]
    [InlineData("train", "--layers", "784")]
    [InlineData("train", "--layers", "784-0-10")]
    [InlineData("train", "--lr", "-1")]
    [InlineData("train", "--optimizer", "momentum", "--momentum", "NaN")]
    [InlineData("train", "--optimizer", "adam", "--beta1", "NaN")]
    [InlineData("train", "--optimizer", "adam", "--eps", "NaN")]
    [InlineData("train", "--optimizer", "rmsprop", "--alpha", "NaN")]
    [InlineData("train", "--optimizer", "adadelta", "--rho", "NaN")]
    [InlineData("train", "--weight-decay", "NaN")]
    [InlineData("train", "--optimizer", "sgd", "--beta1", "0.8")]
    [InlineData("train", "--schedule", "step")]
    [InlineData("train", "--output", "sigmoid", "--loss", "softmax-ce")]
    [InlineData("train", "--preset", "lecun")]
    [InlineData("train", "--csv", "x.csv")]
    [InlineData("train", "--label-column", "y")]
    [InlineData("train", "--csv", "x.csv", "--label-column", "y", "--data", "d")]
    [InlineData("eval")]
    [InlineData("predict", "--model", "m.safetensors")]
    [InlineData("predict", "--model", "m.safetensors", "--image", "a.png", "--idx-index", "1")]
    [InlineData("frobnicate")]
    [InlineData]
    public void Bad_command_lines_exit_2_with_one_message(params string[] args)
    {
        var r = Cli.Run(args);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.StartsWith("backprop: ", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_exits_0()
    {
        var r = Cli.Run("train", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("--preset", r.Out, StringComparison.Ordinal);
    }
}
