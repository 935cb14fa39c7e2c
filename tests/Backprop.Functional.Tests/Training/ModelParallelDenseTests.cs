using System.Numerics;
using Backprop.Functional.Kernels;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>Model parallelism (<see cref="ModelParallelDense{T}"/>): a dense layer split by output rows equals the unsplit
/// layer (<see cref="DenseKernel"/>, <see cref="Equations"/>): bit for bit with one block, for ∂C/∂b always, and on the
/// wide layer where the blocks' products take the whole layer's kernel; otherwise within 2γₙ·Σ|terms|.</summary>
[Collection(RunsAlone.Name)]   // holds the GEMM pool in one test and counts its parallel runs
public sealed class ModelParallelDenseTests
{
    private static readonly ActivationKind[] Kinds =
        [ActivationKind.Identity, ActivationKind.ReLU, ActivationKind.Tanh, ActivationKind.Sigmoid, ActivationKind.Softmax];

    private sealed record Case<T>(T[] Z, T[] A, T[] Delta, T[] DTheta, T[] Dx) where T : unmanaged, IFloatingPointIeee754<T>;

    private static T[] Random<T>(int n, ref SeededRandom rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var v = new T[n];
        for (int i = 0; i < n; i++) v[i] = rng.Next(5) == 0 ? T.Zero : T.CreateChecked(rng.NextGaussian());
        return v;
    }

    /// <summary>The unsplit layer: DenseKernel.Forward, then BP1 (σ′), BP4, BP3, BP2's product on the same z, a, ∂C/∂a.</summary>
    private static Case<T> Unsplit<TAct, T>(Dense d, T[] theta, T[] x, T[] dy) where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = x.Length / d.Inputs, weights = d.Inputs * d.Outputs;
        var z = new T[rows * d.Outputs];
        var a = new T[rows * d.Outputs];
        DenseKernel.Forward<TAct, T>(theta, x, z, a, d.Inputs, d.Outputs);
        var delta = (T[])dy.Clone();
        Equations.OutputError<TAct, T>(delta, z, a, delta, d.Outputs);
        var dTheta = new T[theta.Length];
        var dx = new T[x.Length];
        Equations.WeightGradient<T>(delta, x, dTheta.AsSpan(0, weights), d.Inputs, d.Outputs);
        Equations.BiasGradient<T>(delta, dTheta.AsSpan(weights, d.Outputs));
        Equations.InputGradient<T>(theta.AsSpan(0, weights), delta, dx, d.Inputs, d.Outputs);
        return new Case<T>(z, a, delta, dTheta, dx);
    }

    private static Case<T> Unsplit<T>(Dense d, T[] theta, T[] x, T[] dy) where T : unmanaged, IFloatingPointIeee754<T> => d.Activation switch
    {
        ActivationKind.Identity => Unsplit<Identity, T>(d, theta, x, dy),
        ActivationKind.ReLU => Unsplit<ReLU, T>(d, theta, x, dy),
        ActivationKind.Tanh => Unsplit<Tanh, T>(d, theta, x, dy),
        ActivationKind.Sigmoid => Unsplit<Sigmoid, T>(d, theta, x, dy),
        _ => Unsplit<Softmax, T>(d, theta, x, dy),
    };

    /// <summary>The split layer; its backward pass reads the unsplit forward's z and a, so δ is the same and the
    /// backward comparison sees the split of the backward products alone.</summary>
    private static Case<T> Split<T>(Dense d, int blocks, int threads, T[] theta, T[] x, T[] dy, Case<T> reference) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = x.Length / d.Inputs;
        var mp = new ModelParallelDense<T>(d, blocks, rows + 1, threads);
        var z = new T[rows * d.Outputs];
        var a = new T[rows * d.Outputs];
        mp.Forward(theta, x, z, a);
        var delta = (T[])dy.Clone();
        var dTheta = new T[theta.Length];
        var dx = new T[x.Length];
        mp.Backward(theta, x, reference.Z, reference.A, delta, dx, dTheta);
        return new Case<T>(z, a, delta, dTheta, dx);
    }

    private static double Gamma<T>(int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double u = double.CreateChecked(T.Epsilon) > 0 && typeof(T) == typeof(float) ? Math.Pow(2, -24) : Math.Pow(2, -53);
        return n * u / (1 - n * u);
    }

    private static void Compare<T>(Dense d, int blocks, T[] theta, T[] x, Case<T> r, Case<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = x.Length / d.Inputs, inputs = d.Inputs, outputs = d.Outputs, weights = inputs * outputs;
        Assert.Equal(r.Delta, s.Delta);                                                 // the same σ′ on the same z, a
        Assert.Equal(r.DTheta.AsSpan(weights).ToArray(), s.DTheta.AsSpan(weights).ToArray());   // ∂C/∂b: always the same sums
        if (blocks == 1)
        {
            Assert.Equal(r.Z, s.Z);
            Assert.Equal(r.A, s.A);
            Assert.Equal(r.DTheta, s.DTheta);
            Assert.Equal(r.Dx, s.Dx);
            return;
        }
        double gz = 2 * Gamma<T>(inputs + 1), gw = 2 * Gamma<T>(rows), gx = 2 * Gamma<T>(outputs);
        for (int i = 0; i < rows; i++)
        {
            double rowDz = 0;
            for (int j = 0; j < outputs; j++)
            {
                double bound = Math.Abs(double.CreateChecked(theta[weights + j]));
                for (int k = 0; k < inputs; k++) bound += Math.Abs(double.CreateChecked(x[i * inputs + k] * theta[j * inputs + k]));
                double dz = Math.Abs(double.CreateChecked(s.Z[i * outputs + j] - r.Z[i * outputs + j]));
                Assert.True(dz <= gz * bound, $"z[{i},{j}] differs by {dz:E3} > {gz * bound:E3}");
                rowDz = Math.Max(rowDz, dz);
            }
            for (int j = 0; j < outputs; j++)
            {
                double ra = double.CreateChecked(r.A[i * outputs + j]), da = Math.Abs(double.CreateChecked(s.A[i * outputs + j]) - ra);
                double bound = 2 * rowDz + 8 * Gamma<T>(1) * Math.Max(1, Math.Abs(ra));
                Assert.True(da <= bound, $"a[{i},{j}] differs by {da:E3} > {bound:E3}");
            }
            for (int k = 0; k < inputs; k++)
            {
                double bound = 0;
                for (int j = 0; j < outputs; j++) bound += Math.Abs(double.CreateChecked(r.Delta[i * outputs + j] * theta[j * inputs + k]));
                double dx = Math.Abs(double.CreateChecked(s.Dx[i * inputs + k] - r.Dx[i * inputs + k]));
                Assert.True(dx <= gx * bound, $"∂C/∂x[{i},{k}] differs by {dx:E3} > {gx * bound:E3}");
            }
        }
        for (int j = 0; j < outputs; j++)
            for (int k = 0; k < inputs; k++)
            {
                double bound = 0;
                for (int i = 0; i < rows; i++) bound += Math.Abs(double.CreateChecked(r.Delta[i * outputs + j] * x[i * inputs + k]));
                double dw = Math.Abs(double.CreateChecked(s.DTheta[j * inputs + k] - r.DTheta[j * inputs + k]));
                Assert.True(dw <= gw * bound, $"∂C/∂W[{j},{k}] differs by {dw:E3} > {gw * bound:E3}");
            }
    }

    private static void Check<T>(byte inputs, byte outputs, byte rows, byte blocks, byte kind, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new Dense(1 + inputs % 70, 1 + outputs % 70, Kinds[kind % Kinds.Length]);
        int n = 1 + rows % 9, p = 1 + blocks % 5;
        var rng = new SeededRandom(seed);
        var theta = Random<T>(d.Inputs * d.Outputs + d.Outputs, ref rng);
        var x = Random<T>(n * d.Inputs, ref rng);
        var dy = Random<T>(n * d.Outputs, ref rng);
        var reference = Unsplit(d, theta, x, dy);
        Compare(d, Math.Min(p, (d.Outputs + 3) / 4), theta, x, reference, Split(d, p, threads: 2, theta, x, dy, reference));
    }

    [Property(MaxTest = 300)]
    public void Split_layer_equals_the_unsplit_layer_double(byte inputs, byte outputs, byte rows, byte blocks, byte kind, int seed) =>
        Check<double>(inputs, outputs, rows, blocks, kind, seed);

    [Property(MaxTest = 300)]
    public void Split_layer_equals_the_unsplit_layer_float(byte inputs, byte outputs, byte rows, byte blocks, byte kind, int seed) =>
        Check<float>(inputs, outputs, rows, blocks, kind, seed);

    /// <summary>784→4096 at batch 64 in two blocks: each block's products take the whole layer's kernel, so z, a, ∂C/∂W
    /// and ∂C/∂b are the unsplit bits; ∂C/∂x (summed over the outputs in another order) is within the bound.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Wide_layer_in_two_blocks_is_bit_equal_but_for_the_input_gradient(bool isDouble)
    {
        if (isDouble) Wide<double>();
        else Wide<float>();
    }

    private static void Wide<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new Dense(784, 4096, ActivationKind.ReLU);
        var rng = new SeededRandom(3);
        var theta = Random<T>(d.Inputs * d.Outputs + d.Outputs, ref rng);
        var x = Random<T>(64 * d.Inputs, ref rng);
        var dy = Random<T>(64 * d.Outputs, ref rng);
        var r = Unsplit(d, theta, x, dy);
        var s = Split(d, 2, threads: 2, theta, x, dy, r);
        Assert.Equal(r.Z, s.Z);
        Assert.Equal(r.A, s.A);
        Assert.Equal(r.DTheta, s.DTheta);
        Compare(d, 2, theta, x, r, s);
    }

    [SkippableFact]
    public void Blocks_run_on_two_threads_and_the_thread_count_does_not_change_the_bits()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the blocks run in turn");
        var d = new Dense(96, 200, ActivationKind.Tanh);
        var rng = new SeededRandom(4);
        var theta = Random<double>(d.Inputs * d.Outputs + d.Outputs, ref rng);
        var x = Random<double>(16 * d.Inputs, ref rng);
        var dy = Random<double>(16 * d.Outputs, ref rng);
        var r = Unsplit(d, theta, x, dy);
        long runs = Interlocked.Read(ref ModelParallelDense<double>.ParallelRuns);
        var one = Split(d, 3, threads: 1, theta, x, dy, r);
        Assert.Equal(runs, Interlocked.Read(ref ModelParallelDense<double>.ParallelRuns));
        var two = Split(d, 3, threads: 2, theta, x, dy, r);
        Assert.True(Interlocked.Read(ref ModelParallelDense<double>.ParallelRuns) > runs, "the blocks never ran on two threads");
        Assert.Equal(one.Z, two.Z);
        Assert.Equal(one.A, two.A);
        Assert.Equal(one.DTheta, two.DTheta);
        Assert.Equal(one.Dx, two.Dx);
    }

    /// <summary>The rule: a call made by the thread that holds the GEMM pool (an outer level has the threads) runs its
    /// blocks in turn, with the same bits; it must not start a nested job on the pool.</summary>
    [SkippableFact]
    public void A_call_while_the_pool_is_held_runs_its_blocks_in_turn()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the blocks run in turn anyway");
        var d = new Dense(40, 64, ActivationKind.ReLU);
        var rng = new SeededRandom(5);
        var theta = Random<float>(d.Inputs * d.Outputs + d.Outputs, ref rng);
        var x = Random<float>(8 * d.Inputs, ref rng);
        var dy = Random<float>(8 * d.Outputs, ref rng);
        var r = Unsplit(d, theta, x, dy);
        var free = Split(d, 2, threads: 2, theta, x, dy, r);
        Assert.True(Gemm.Pool.TryEnter(1));
        Case<float> held;
        long runs;
        try
        {
            runs = Interlocked.Read(ref ModelParallelDense<float>.ParallelRuns);
            held = Split(d, 2, threads: 2, theta, x, dy, r);
        }
        finally
        {
            Gemm.Pool.Exit();
        }
        Assert.Equal(runs, Interlocked.Read(ref ModelParallelDense<float>.ParallelRuns));
        Assert.Equal(free.Z, held.Z);
        Assert.Equal(free.DTheta, held.DTheta);
        Assert.Equal(free.Dx, held.Dx);
    }
}
