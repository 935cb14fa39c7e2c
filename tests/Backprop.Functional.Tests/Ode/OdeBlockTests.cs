using Xunit;

namespace Backprop.Functional.Tests.Ode;

/// <summary>The ODE block as a layer kind: in a network between dense layers its gradient passes the library's
/// gradient check, it round-trips through a layer list and a model file, a bad description is refused with a reason,
/// and its statistics say what the solve cost.</summary>
public class OdeBlockTests
{
    private static OdeBlock Block(OdeSolver solver, OdeGradient gradient, int checkpoints = 0, bool time = true) =>
        new(OdeFunction.Create(4, time, (6, ActivationKind.Tanh), (4, ActivationKind.Identity)), solver, 0, 1, gradient, checkpoints);

    private static NetworkSpec Spec(OdeBlock block) =>
        new([new Dense(3, 4, ActivationKind.Tanh), block, new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);

    private static (double[] X, double[] Y) Batch(int rows)
    {
        var rng = new SeededRandom(5);
        var x = new double[rows * 3];
        var y = new double[rows * 2];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextDouble() * 2 - 1;
        for (int r = 0; r < rows; r++) y[r * 2 + rng.Next(2)] = 1;
        return (x, y);
    }

    [Theory]
    [InlineData("rk4:3", false)]
    [InlineData("euler:5", false)]
    [InlineData("rk4:3", true)]
    public void Discretise_passes_the_gradient_check_inside_a_network(string solver, bool withoutTime)
    {
        Assert.True(OdeSolver.TryParse(solver, out var s, out _));
        using var net = Network<double>.Create(Spec(Block(s, OdeGradient.Discretise, time: !withoutTime)), seed: 3);
        var (x, y) = Batch(5);
        var report = GradientCheck.Run(net, x, y, new GradientCheckOptions(FiniteDifference.FivePoint));
        Assert.True(report.MaxRelativeError < 1e-7, report.ToString());
    }

    [Fact]
    public void The_adjoint_inside_a_network_is_close_to_the_gradient_check_with_small_steps()
    {
        using var net = Network<double>.Create(Spec(Block(new DormandPrince(1e-10, 1e-12), OdeGradient.Adjoint, checkpoints: 2)), seed: 3);
        var (x, y) = Batch(5);
        var report = GradientCheck.Run(net, x, y, new GradientCheckOptions(FiniteDifference.FivePoint, Floor: 1e-6));
        Assert.True(report.MaxRelativeError < 1e-5, report.ToString());
    }

    [Theory]
    [InlineData("Ode(4;time-6:Tanh-4:Identity;rk4:8;0:1;adjoint:3)")]
    [InlineData("Ode(4;6:Softplus-4:Identity;dopri5:1E-05:1E-07:50;-0.5:2.25;discretise)")]
    [InlineData("Ode(4;4:Identity;euler:2;1:0;adjoint)")]
    public void A_block_round_trips_through_its_layer_list_text_and_a_model_file(string text)
    {
        Assert.True(LayerList.TryParse($"3-4:Tanh,{text},4-2:Softmax", LayerCatalog.Default, out var layers, out string reason), reason);
        var spec = new NetworkSpec(layers, LossKind.SoftmaxCrossEntropy);
        Assert.Equal($"3-4:Tanh,{text},4-2:Softmax", LayerList.Format(spec.Layers));
        using var net = Network<float>.Create(spec, seed: 1);
        string dir = Directory.CreateTempSubdirectory("backprop-ode-").FullName;
        try
        {
            string path = Path.Combine(dir, "ode.safetensors");
            ModelFile.Save(path, net);
            var loaded = ModelFile.Load<float>(path);
            Assert.Equal(spec, loaded.Spec);
            Assert.Equal(net.Parameters.ToArray(), loaded.Parameters);
            Assert.Contains(net.Layout.Slots.ToArray(), s => s.Name == "layers.1.f.0.weight");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("4;6:Tanh-3:Identity;rk4:8;0:1;adjoint", "f's last layer writes 3 values but dh/dt has the state's 4")]
    [InlineData("4;6:Tanh-4:Identity;rk4:8;0:0;adjoint", "must be two different finite times")]
    [InlineData("4;6:Tanh-4:Identity;rk4:4;0:1;adjoint:4", "4 checkpoints need more than 4 steps per interval")]
    [InlineData("4;6:Tanh-4:Identity;rk4:4;0:1;discretise:2", "is not adjoint, adjoint:CHECKPOINTS or discretise")]
    [InlineData("4;6:Tanh-4:Identity;rk5:4;0:1;adjoint", "is not a solver")]
    [InlineData("4;6:Softmax-4:Identity;rk4:4;0:1;adjoint", "f's layer 0 is Softmax")]
    [InlineData("4;6:Tanh-4:Identity;dopri5:2:1E-06:10;0:1;adjoint", "rtol must be in (0, 1)")]
    public void A_bad_description_is_refused_with_its_reason(string arguments, string expected)
    {
        Assert.False(OdeBlockKernel.TryParse(arguments, out _, out string reason));
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Statistics_count_the_evaluations_of_the_last_passes()
    {
        var spec = Spec(Block(new RungeKutta4(5), OdeGradient.Adjoint));
        using var net = Network<double>.Create(spec, seed: 2);
        using var ws = net.CreateWorkspace(4);
        using var g = net.CreateGradient();
        var (x, y) = Batch(4);
        net.Forward(x, ws);
        var forward = OdeBlock.Statistics(spec, ws, 1);
        Assert.Equal(new OdeStatistics(20, 5, 0, 0, 0, 0, 0), forward);
        net.Backward(x, y, ws, g.Span);
        // The adjoint integrates back with the same 5 steps: 4 augmented evaluations each, each one f and one product.
        Assert.Equal(new OdeStatistics(20, 5, 0, 20, 20, 5, 0), OdeBlock.Statistics(spec, ws, 1));
        Assert.Throws<ArgumentException>(() => OdeBlock.Statistics(spec, ws, 0));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void A_forward_pass_after_a_backward_pass_repeats_the_first_exactly(int checkpoints)
    {
        // The adjoint's buffers hold [h, a]; the forward pass integrates h alone, whatever the backward pass left.
        var spec = Spec(Block(new DormandPrince(1e-8, 1e-10), OdeGradient.Adjoint, checkpoints));
        using var net = Network<double>.Create(spec, seed: 3);
        using var ws = net.CreateWorkspace(5);
        using var g = net.CreateGradient();
        var (x, y) = Batch(5);
        double[] output = net.Forward(x, ws).ToArray();
        var first = OdeBlock.Statistics(spec, ws, 1);
        net.Backward(x, y, ws, g.Span);
        Assert.Equal(output, net.Forward(x, ws).ToArray());
        Assert.Equal(first, OdeBlock.Statistics(spec, ws, 1));
    }

    [Fact]
    public void The_predictor_runs_the_block_as_Forward_does()
    {
        using var net = Network<double>.Create(Spec(Block(new RungeKutta4(4), OdeGradient.Adjoint)), seed: 4);
        using var ws = net.CreateWorkspace(1);
        using var predictor = new Predictor<double>(net);
        var (x, _) = Batch(3);
        for (int r = 0; r < 3; r++)
        {
            var row = x.AsSpan(r * 3, 3);
            Assert.Equal(net.Forward(row, ws).ToArray(), predictor.Predict(row).ToArray());
        }
    }

    [Fact]
    public void The_adjoint_keeps_memory_flat_as_steps_grow_and_discretise_does_not()
    {
        int Bytes(OdeGradient gradient, int steps) => Block(new RungeKutta4(steps), gradient).Plan.PerRow;
        Assert.Equal(Bytes(OdeGradient.Adjoint, 10), Bytes(OdeGradient.Adjoint, 1000));
        Assert.Equal(990 * 4, Bytes(OdeGradient.Discretise, 1000) - Bytes(OdeGradient.Discretise, 10));
    }
}
