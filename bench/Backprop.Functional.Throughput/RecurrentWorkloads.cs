namespace Backprop.Functional.Throughput;

/// <summary>Issue 12's recurrent workloads (bench/peers/torchsharp/README.md): L1, sequential-MNIST LSTM-128 training
/// at batch 64 (L1_STEPS timed steps, default 200, after a warm-up; samples/s, managed bytes per step, test accuracy),
/// and L2, one 28×28 sequence's inference latency (median µs). Same RESULT fields as the peer's.</summary>
internal static class RecurrentWorkloads
{
    // TODO(issue 12): our side of L1/L2, written by the lead once the Lstm layer kind lands. Until then `e2e L1`/`e2e L2`
    // fail and `compare --workloads L1@1,L1@2,L2@1,L2@2` shows only the peer's figures.
    public static void Run(Dictionary<string, object> res, string workload, int threads, Dataset train, Dataset test, long seed) =>
        throw new NotSupportedException($"{workload}: our side lands with the Lstm kind");
}
