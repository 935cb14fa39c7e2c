using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>Two threads (the batch's row halves through every step, and the GEMMs split) train a recurrent network to
/// the same θ, bit for bit, as one.</summary>
/// <remarks>Runs alone, so that the first test exercises the split; the second holds the pool on another thread, as a
/// concurrent test would, and checks the fallback (once two-thread per-step GEMMs with other kernels, different bits: a
/// full-suite run on a loaded machine failed the first test that way).</remarks>
[Collection(RunsAlone.Name)]
public class RecurrentThreadsTests
{
    [Theory]
    [InlineData("Lstm(6-12),12-3:Softmax", false)]
    [InlineData("Gru(6-12),12-3:Softmax", true)]
    [InlineData("Rnn(6-12:Tanh:sequences),12-3:Softmax:per-step", false)]
    [InlineData("Lstm(6-12:sequences),Gru(12-8),8-3:Softmax", true)]
    // wide enough that ∂C/∂[W_ih | W_hh | b] runs its two halves on two threads too (RecurrentGradients, ≥ 2¹⁸ multiply–adds),
    // and H = 40 runs the 512-bit cells (where AVX-512 runs) on 32 units, the 256-bit ones on 8
    [InlineData("Lstm(6-40),40-3:Softmax", true)]
    [InlineData("Rnn(6-64:Tanh),64-3:Softmax", false)]
    [InlineData("Rnn(6-20:ReLU),20-3:Softmax", true)]
    public void Two_threads_give_the_same_model_as_one(string list, bool lengths)
    {
        Assert.True(LayerList.TryParse(list, LayerCatalog.Default, out var layers, out string error), error);
        var spec = new NetworkSpec(layers, LossKind.SoftmaxCrossEntropy);
        const int rows = 32, time = 7;
        var rng = new SeededRandom(4);
        var x = new float[rows * time * 6];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        int positions = layers[^1].Output.IsSequence ? rows * time : rows;
        var y = new float[positions * 3];
        for (int p = 0; p < positions; p++) y[p * 3 + p % 3] = 1;
        int[] length = [.. Enumerable.Range(0, rows).Select(r => 1 + r % time)];
        float[] Train(int threads)
        {
            using var net = Network<float>.Create(spec, 9);
            using var state = new TrainState<float>(net, new Adam(1e-2), rows, threads, time);
            if (lengths) state.Workspace.SetLengths(length);
            for (int s = 0; s < 5; s++) Trainer.Step(net, x, y, state);
            return net.Parameters.ToArray();
        }
        Assert.Equal(Train(1), Train(2));
    }

    /// <summary>With the GEMM pool held by another thread, a two-thread run falls back to one range: still the same θ.</summary>
    [Theory]
    [InlineData("Lstm(6-12),12-3:Softmax")]
    [InlineData("Gru(6-12),12-3:Softmax")]
    public void Two_threads_with_the_pool_busy_give_the_same_model_as_one(string list)
    {
        Assert.True(LayerList.TryParse(list, LayerCatalog.Default, out var layers, out string error), error);
        var spec = new NetworkSpec(layers, LossKind.SoftmaxCrossEntropy);
        const int rows = 32, time = 7;
        var rng = new SeededRandom(4);
        var x = new float[rows * time * 6];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var y = new float[rows * 3];
        for (int p = 0; p < rows; p++) y[p * 3 + p % 3] = 1;
        float[] Train(int threads)
        {
            using var net = Network<float>.Create(spec, 9);
            using var state = new TrainState<float>(net, new Adam(1e-2), rows, threads, time);
            for (int s = 0; s < 5; s++) Trainer.Step(net, x, y, state);
            return net.Parameters.ToArray();
        }
        var one = Train(1);
        WhileAnotherThreadHoldsThePool(() => Assert.Equal(one, Train(2)));
    }

    /// <summary>A layer refused by a busy pool computes alone and must not write the shared two-thread job, whose fields
    /// the holder's workers may be reading: the zero-start flag (and, then, a joined-rows flag) was written before the claim, so a
    /// concurrent LSTM with h₀ = 0 could make another's split skip W_hh·h₀ with a learned h₀ (a finite-difference property
    /// failed once in a parallel run that way).</summary>
    [Fact]
    public void A_layer_refused_by_a_busy_pool_leaves_the_shared_job_alone()
    {
        var spec = new NetworkSpec([new Lstm(6, 12), new Dense(12, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        const int rows = 32, time = 5;
        using var net = Network<float>.Create(spec, 9);
        using var ws = net.CreateWorkspace(rows, 2, time);
        var x = new float[rows * time * 6];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 11 - 5) / 5f;
        var y = new float[rows * 3];
        for (int p = 0; p < rows; p++) y[p * 3 + p % 3] = 1;
        var g = new float[net.Parameters.Length];
        var job = typeof(RecurrentSplit<float, LstmCell>).GetField("Shared", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetValue(null)!;
        var zeroStart = job.GetType().GetField("_zeroStart", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var backward = job.GetType().GetField("_backward", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        zeroStart.SetValue(job, false);
        backward.SetValue(job, false);
        WhileAnotherThreadHoldsThePool(() => net.ValueAndGradient(x, y, ws, g));   // h₀ = 0, then a backward pass: both flags true for its own split
        Assert.False((bool)zeroStart.GetValue(job)!);
        Assert.False((bool)backward.GetValue(job)!);
    }

    /// <summary>Runs <paramref name="body"/> while another thread holds the GEMM pool (claimed, no job running), as a
    /// concurrent caller would.</summary>
    private static void WhileAnotherThreadHoldsThePool(Action body)
    {
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            bool entered = Backprop.Functional.Kernels.Gemm.Pool.TryEnter(1);
            held.Set();
            release.Wait();
            if (entered) Backprop.Functional.Kernels.Gemm.Pool.Exit();
        });
        holder.Start();
        held.Wait();
        try
        {
            body();
        }
        finally
        {
            release.Set();
            holder.Join();
        }
    }
}
