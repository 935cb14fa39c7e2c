// A program that uses Backprop.Functional through its NuGet package alone, as a user's would. scripts/package-check.sh
// copies this folder outside the repository, restores the package from a folder feed, builds with warnings as errors,
// runs it, then publishes it with NativeAOT and runs the native binary; it must exit 0 both times.
//
// The network is declared with the generator's attributes (the package carries the generator as an analyzer): 2
// inputs, 16 tanh units, 3 softmax outputs, trained on three blobs in the plane with mini-batches of 8 and Adam.
using Allocation;
using Backprop.Functional;

const int Rows = 600, Batch = 8, Epochs = 15;
float[] x = new float[Rows * Blobs.InputSize], y = new float[Rows * Blobs.OutputSize];
Data.MakeBlobs(x, y, seed: 11);

using var net = Network<float>.Create(Blobs.Spec, seed: 1);   // θ drawn from a seed (PyTorch's initialisation)
using var ws = Blobs.CreateWorkspace<float>(Batch);
var gradient = new float[Blobs.ParameterCount];
var optimizer = new Adam(LearningRate: 1e-2);
using var buffers = optimizer.CreateBuffers<float>(Blobs.ParameterCount);
var state = default(OptimizerState);

if (args is ["--first-step"])   // start-up time: scripts/aot-bench.sh times the process up to its first training step
{
    float cost = Blobs.TrainStep<float>(net.Parameters, x.AsSpan(0, Batch * Blobs.InputSize), y.AsSpan(0, Batch * Blobs.OutputSize),
        ws, gradient, optimizer, ref state, buffers);
    Console.WriteLine($"first step: loss {cost:F4}");
    return 0;
}

Console.WriteLine($"network {Blobs.Spec}, {Blobs.ParameterCount} parameters, batch {Batch}, Adam lr {optimizer.LearningRate}");
double first = double.NaN, last = double.NaN;
for (int epoch = 1; epoch <= Epochs; epoch++)
{
    double sum = 0;
    for (int row = 0; row < Rows; row += Batch)
        sum += Blobs.TrainStep<float>(net.Parameters, x.AsSpan(row * Blobs.InputSize, Batch * Blobs.InputSize),
            y.AsSpan(row * Blobs.OutputSize, Batch * Blobs.OutputSize), ws, gradient, optimizer, ref state, buffers);
    double mean = sum / (Rows / Batch);
    if (epoch == 1) first = mean;
    last = mean;
    if (epoch % 5 == 0 || epoch == 1) Console.WriteLine($"epoch {epoch,2}: mean loss {mean:F4}");
}

// Accuracy on the training rows, batch by batch through the generated Predict.
Span<int> predicted = stackalloc int[Batch];
int correct = 0;
for (int row = 0; row < Rows; row += Batch)
{
    Blobs.Predict<float>(net.Parameters, x.AsSpan(row * Blobs.InputSize, Batch * Blobs.InputSize), ws, predicted);
    for (int r = 0; r < Batch; r++)
        if (y[(row + r) * Blobs.OutputSize + predicted[r]] == 1) correct++;
}

double accuracy = (double)correct / Rows;
Console.WriteLine($"training accuracy {accuracy:F4}");

// The steady-state step allocates nothing: every window of 100 steps after warm-up, on every thread.
long[] bytes = AllocationCheck.SteadyState(() => Blobs.TrainStep<float>(net.Parameters, x.AsSpan(0, Batch * Blobs.InputSize),
    y.AsSpan(0, Batch * Blobs.OutputSize), ws, gradient, optimizer, ref state, buffers));
Console.WriteLine($"bytes allocated per window of 100 steps after warm-up: [{string.Join(", ", bytes)}]");

string? failure = !(last < first / 4) ? $"the loss did not fall to a quarter ({first:F4} -> {last:F4})"
    : accuracy < 0.95 ? $"training accuracy {accuracy:F4} < 0.95"
    : Array.Exists(bytes, b => b != 0) ? "the steady-state step allocated"
    : null;
if (failure is not null)
{
    Console.Error.WriteLine($"FAIL: {failure}");
    return 1;
}

Console.WriteLine("OK");
return 0;

/// <summary>2-16-3: tanh hidden layer, softmax output, categorical cross-entropy.</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Dense(2, 16, typeof(Tanh))]
[Dense(16, 3, typeof(Softmax))]
internal static partial class Blobs;

/// <summary>Three blobs in the plane, well apart, in row order 0, 1, 2, 0, 1, 2, …; one-hot targets.</summary>
internal static class Data
{
    public static void MakeBlobs(Span<float> x, Span<float> y, uint seed)
    {
        ReadOnlySpan<float> centres = [-2f, -2f, 2f, -2f, 0f, 2.5f];
        uint s = seed == 0 ? 1u : seed;
        int rows = x.Length / 2;
        for (int i = 0; i < rows; i++)
        {
            int k = i % 3;
            x[2 * i] = centres[2 * k] + Uniform(ref s) * 0.8f;
            x[2 * i + 1] = centres[2 * k + 1] + Uniform(ref s) * 0.8f;
            y[3 * i + k] = 1;
        }
    }

    /// <summary>Marsaglia's xorshift32, scaled to [−1, 1).</summary>
    private static float Uniform(ref uint s)
    {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return (s >> 8) * (2f / (1 << 24)) - 1f;
    }
}
