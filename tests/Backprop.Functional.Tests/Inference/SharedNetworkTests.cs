using Xunit;

namespace Backprop.Functional.Tests.Inference;

/// <summary>The documented rule for <see cref="Network{T}"/>: while nothing trains it, any number of threads may run
/// Forward and ValueAndGradient on one network, each with its own workspace, and get the one-thread bits.</summary>
public sealed class SharedNetworkTests
{
    [Fact]
    public void Eight_threads_with_a_workspace_each_get_the_single_thread_results()
    {
        const int threads = 8, calls = 300, batch = 4;
        var spec = NetworkSpec.Mlp([64, 48, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 9);
        var inputs = new float[threads][];
        var targets = new float[threads][];
        var outputs = new float[threads][];
        var costs = new float[threads];
        var gradients = new float[threads][];
        var random = new SeededRandom(4);
        for (int t = 0; t < threads; t++)
        {
            inputs[t] = [.. Enumerable.Range(0, batch * 64).Select(_ => (float)random.NextDouble())];
            targets[t] = new float[batch * 10];
            for (int r = 0; r < batch; r++) targets[t][r * 10 + ((t + r) % 10)] = 1;
            using var ws = net.CreateWorkspace(batch);
            using var g = net.CreateGradient();
            outputs[t] = net.Forward(inputs[t], ws).ToArray();
            costs[t] = net.ValueAndGradient(inputs[t], targets[t], ws, g.Span);
            gradients[t] = g.Span.ToArray();
        }

        int wrong = 0;
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            using var ws = net.CreateWorkspace(batch);
            using var g = net.CreateGradient();
            start.SignalAndWait();
            for (int i = 0; i < calls; i++)
            {
                if (!net.Forward(inputs[t], ws).SequenceEqual(outputs[t])) Interlocked.Increment(ref wrong);
                if (net.ValueAndGradient(inputs[t], targets[t], ws, g.Span) != costs[t] || !g.Span.SequenceEqual(gradients[t]))
                    Interlocked.Increment(ref wrong);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        Assert.Equal(0, wrong);
    }
}
