using System.Numerics;
using Backprop.Functional;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>Nesterov's look-ahead form needs ∇C(θ − μv). The generated TrainStep takes its gradient where
/// <see cref="Optimizer.GradientPoint{T}"/> says, as <see cref="Trainer.Step{T}"/> does (whose trajectory the library's
/// tests hold to the textbook recursion), so the two leave θ, the velocity and the cost bit for bit equal.</summary>
public sealed class LookAheadTests
{
    [Theory]
    [InlineData(2)]   // batches: the shared kernels, bit for bit (one sample runs the generated loops: ParityProperties)
    [InlineData(3)]
    public void Generated_TrainStep_with_lookahead_Nesterov_equals_Trainer_Step(int rows)
    {
        Same<TinyNet, double>(rows);
        Same<MixNet, double>(rows);
        Same<SmallSoftmaxNet, float>(rows);
    }

    private static void Same<TNet, T>(int rows) where TNet : IGenerated where T : unmanaged, IFloatingPointIeee754<T>
    {
        var optimizer = new Nesterov(0.1, 0.9, NesterovForm.LookAhead);
        var spec = TNet.Spec;
        using var runtime = Network<T>.Create(spec, seed: 7);
        T[] theta = runtime.Parameters.ToArray();
        using var ws = TNet.CreateWorkspace<T>(rows);
        using var wsRuntime = runtime.CreateWorkspace(rows);
        using var buffers = optimizer.CreateBuffers<T>(theta.Length);
        using var buffersRuntime = optimizer.CreateBuffers<T>(theta.Length);
        var g = new T[theta.Length];
        var gRuntime = new T[theta.Length];
        var options = new TrainingOptions(BatchSize: rows, Optimizer: optimizer);
        OptimizerState state = default, stateRuntime = default;
        var random = new Random(3);
        for (int step = 0; step < 4; step++)
        {
            T[] x = [.. Enumerable.Range(0, rows * spec.Inputs).Select(_ => T.CreateChecked(random.NextDouble() * 2 - 1))];
            T[] y = new T[rows * spec.Outputs];
            for (int r = 0; r < rows; r++) y[r * spec.Outputs + random.Next(spec.Outputs)] = T.One;
            T cost = TNet.TrainStep<T>(theta, x, y, ws, g, optimizer, ref state, buffers);
            T costRuntime = Trainer.Step(runtime, x, y, wsRuntime, gRuntime, optimizer, ref stateRuntime, buffersRuntime, options, T.Zero);
            Assert.Equal(costRuntime, cost);
            Assert.Equal(runtime.Parameters.ToArray(), theta);
            Assert.Equal(buffersRuntime.Moment(0).ToArray(), buffers.Moment(0).ToArray());
        }
    }
}
