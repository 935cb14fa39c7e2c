using Backprop.Functional.Generators.Tests.Networks;
using Xunit;

using Backprop.Functional.Tests;

namespace Backprop.Functional.Generators.Tests;

/// <summary>A generated TrainStep and TrainOnline allocate nothing once warmed up (JIT, statics, pool buckets).</summary>
[Collection(RunsAlone.Name)]
public sealed class AllocationTests
{
    [Fact]
    public void TrainStep_Tiny_float_batch1_Adam_allocates_nothing_after_warmup() => Assert.Equal(0L, MeasureTiny<float>());

    [Fact]
    public void TrainStep_Tiny_double_batch1_Adam_allocates_nothing_after_warmup() => Assert.Equal(0L, MeasureTiny<double>());

    [Fact]
    public void TrainStep_MnistMlp_float_batch8_Adam_allocates_nothing_after_warmup()
    {
        using var net = Network<float>.Create(MnistMlp.Spec, seed: 1);
        using var ws = MnistMlp.CreateWorkspace<float>(8);
        var optimizer = new Adam();
        using var buffers = optimizer.CreateBuffers<float>(MnistMlp.ParameterCount);
        var gradient = new float[MnistMlp.ParameterCount];
        var x = new float[8 * MnistMlp.InputSize];
        var y = new float[8 * MnistMlp.OutputSize];
        for (int r = 0; r < 8; r++) { y[r * 10 + r] = 1; x[r * 784 + 100 * r] = 1; }
        var state = default(OptimizerState);
        long calls = 0;
        long allocated = SteadyState.AllocatedBytes(() => { MnistMlp.TrainStep(net.Parameters, x, y, ws, gradient, optimizer, ref state, buffers); calls++; });
        Assert.Equal(0L, allocated);
        Assert.Equal(calls, state.Step);
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("adamw-amsgrad")]
    [InlineData("sgd")]
    public void TrainOnline_MnistMlp_float_allocates_nothing_after_warmup(string which)
    {
        Optimizer optimizer = which switch
        {
            "adam" => new Adam(),
            "adamw-amsgrad" => new AdamW(Amsgrad: true),
            _ => new Sgd(0.01, WeightDecay: 1e-4),
        };
        using var net = Network<float>.Create(MnistMlp.Spec, seed: 1);
        using var ws = MnistMlp.CreateWorkspace<float>(1);
        using var buffers = optimizer.CreateBuffers<float>(MnistMlp.ParameterCount);
        var x = new float[MnistMlp.InputSize];
        var y = new float[MnistMlp.OutputSize];
        x[100] = 1;
        y[3] = 1;
        var state = default(OptimizerState);
        long calls = 0;
        long allocated = SteadyState.AllocatedBytes(() => { MnistMlp.TrainOnline(net.Parameters, x, y, ws, optimizer, ref state, buffers); calls++; });
        Assert.Equal(0L, allocated);
        Assert.Equal(calls, state.Step);
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(4, 7)]
    public void TrainStep_SeqLstm_float_Adam_with_lengths_allocates_nothing_after_warmup(int batch, int time)
    {
        using var net = Network<float>.Create(SeqLstm.Spec, seed: 1);
        using var ws = SeqLstm.CreateWorkspace<float>(batch, time);
        ws.SetLengths([.. Enumerable.Range(0, batch).Select(r => time - r)]);
        var optimizer = new Adam();
        using var buffers = optimizer.CreateBuffers<float>(SeqLstm.ParameterCount);
        var gradient = new float[SeqLstm.ParameterCount];
        var x = new float[batch * time * SeqLstm.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 11) / 11f - 0.5f;
        var y = new float[batch];
        var state = default(OptimizerState);
        long calls = 0;
        long allocated = SteadyState.AllocatedBytes(() => { SeqLstm.TrainStep(net.Parameters, x, y, ws, gradient, optimizer, ref state, buffers); calls++; });
        Assert.Equal(0L, allocated);
        Assert.Equal(calls, state.Step);
    }

    [Fact]
    public void Predict_SeqStacked_double_one_sequence_allocates_nothing_after_warmup()
    {
        using var net = Network<double>.Create(SeqStacked.Spec, seed: 1);
        using var predictor = new SeqStacked.Predictor<double>(net.Parameters);
        var x = new double[6 * SeqStacked.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 5) / 5.0;
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => predictor.Classify(x)));
    }

    private static long MeasureTiny<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var net = Network<T>.Create(Tiny.Spec, seed: 1);
        using var ws = Tiny.CreateWorkspace<T>(1);
        var optimizer = new Adam();
        using var buffers = optimizer.CreateBuffers<T>(Tiny.ParameterCount);
        var gradient = new T[Tiny.ParameterCount];
        var x = new T[Tiny.InputSize];
        var y = new T[] { T.One };
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(i) / T.CreateChecked(16);
        var state = default(OptimizerState);
        return SteadyState.AllocatedBytes(() => Tiny.TrainStep(net.Parameters, x, y, ws, gradient, optimizer, ref state, buffers));
    }
}
