using Xunit;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>A training step through an ODE block with a fixed-step solver allocates nothing, with either gradient,
/// and so does a trajectory's solve and gradient.</summary>
[Collection(RunsAlone.Name)]
public class OdeAllocationTests
{
    [Theory]
    [InlineData(OdeGradient.Discretise, 1)]
    [InlineData(OdeGradient.Adjoint, 1)]
    [InlineData(OdeGradient.Adjoint, 2)]
    public void Trainer_Step_through_an_ODE_block_allocates_nothing(OdeGradient gradient, int threads)
    {
        var block = new OdeBlock(OdeFunction.Create(8, true, (16, ActivationKind.Tanh), (8, ActivationKind.Identity)), new RungeKutta4(4), 0, 1, gradient, gradient == OdeGradient.Adjoint ? 1 : 0);
        var spec = new NetworkSpec([new Dense(16, 8, ActivationKind.Tanh), block, new Dense(8, 4, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        using var ws = net.CreateWorkspace(32, threads);
        using var g = net.CreateGradient();
        var x = new float[32 * 16];
        var y = new float[32 * 4];
        var rng = new SeededRandom(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int r = 0; r < 32; r++) y[r * 4 + rng.Next(4)] = 1;
        var optimizer = new Adam(1e-3);
        using var buffers = optimizer.CreateBuffers<float>(net.Layout.Count);
        var options = new TrainingOptions { Optimizer = optimizer };
        var state = new OptimizerState(0);
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, ws, g.Span, optimizer, ref state, buffers, options, 0f)));
    }

    [Fact]
    public void A_trajectory_solve_and_gradient_allocate_nothing()
    {
        var f = OdeFunction.Create(2, false, (16, ActivationKind.Tanh), (2, ActivationKind.Identity));
        double[] times = [0, 0.5, 1.0, 1.5];
        var trajectory = new OdeTrajectory<double>(f, new RungeKutta4(3), times, rows: 8);
        var theta = new double[f.ParameterCount];
        for (int i = 0; i < theta.Length; i++) theta[i] = Math.Sin(i);
        var h0 = new double[16];
        var states = new double[4 * 16];
        var dStates = new double[4 * 16];
        var dH0 = new double[16];
        var dTheta = new double[theta.Length];
        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            trajectory.Solve(theta, h0, states);
            trajectory.Gradient(theta, dStates, dH0, dTheta);
        }));
    }
}
