using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>Two threads (the batch's row halves through every step, and the GEMMs split) train a recurrent network to
/// the same θ, bit for bit, as one.</summary>
public class RecurrentThreadsTests
{
    [Theory]
    [InlineData("Lstm(6-12),12-3:Softmax", false)]
    [InlineData("Gru(6-12),12-3:Softmax", true)]
    [InlineData("Rnn(6-12:Tanh:sequences),12-3:Softmax:per-step", false)]
    [InlineData("Lstm(6-12:sequences),Gru(12-8),8-3:Softmax", true)]
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
}
