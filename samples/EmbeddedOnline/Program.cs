// Online learning on a small device: a network declared with attributes, its code generated at compile time with
// every size a constant, trained one sample at a time on y = sin(πx₀)·cos(πx₁) / 2 with Adam. The optimizer, the
// initialisation and its seed are declared too, so the generated TrainOnline calls its Adam update directly.
// TrainOnline forms each weight's gradient inside the Adam update and never stores it, so there is no gradient buffer.
// Everything is rented up front; the steady-state steps allocate 0 bytes, and this program checks it.
using Backprop.Functional;

const int Steps = 40_000, Window = 4_000, WarmUp = 100;

Span<float> theta = new float[Sine.ParameterCount];
Sine.Initialize(theta);   // as declared: PyTorch-style initial θ from seed 7
using var ws = Sine.CreateWorkspace<float>(batch: 1);
var optimizer = Sine.DeclaredOptimizer;   // Adam(LearningRate: 0.003), as declared
using var buffers = Sine.CreateOptimizerBuffers<float>();
var state = default(OptimizerState);
Span<float> x = stackalloc float[Sine.InputSize];
Span<float> y = stackalloc float[Sine.OutputSize];
var random = new XorShift(42);

Console.WriteLine($"network {Sine.Spec}, {Sine.ParameterCount} parameters, online (batch 1), Adam lr {optimizer.LearningRate}");
long allocated = 0, ticks = 0;
double first = double.NaN, last = double.NaN;
for (int start = 0; start < Steps; start += Window)
{
    double sum = 0;
    long before = GC.GetAllocatedBytesForCurrentThread();
    long began = System.Diagnostics.Stopwatch.GetTimestamp();
    for (int step = start; step < start + Window; step++)
    {
        if (step == WarmUp)   // JIT/statics settle in the first steps: neither bytes nor time are counted before
        {
            before = GC.GetAllocatedBytesForCurrentThread();
            began = System.Diagnostics.Stopwatch.GetTimestamp();
        }
        x[0] = random.NextSigned();
        x[1] = random.NextSigned();
        y[0] = MathF.Sin(MathF.PI * x[0]) * MathF.Cos(MathF.PI * x[1]) / 2;
        sum += Sine.TrainOnline(theta, x, y, ws, ref state, buffers);
    }
    ticks += System.Diagnostics.Stopwatch.GetTimestamp() - began;
    allocated += GC.GetAllocatedBytesForCurrentThread() - before;   // printing below is not counted
    double mean = sum / Window;
    if (start == 0) first = mean;
    last = mean;
    Console.WriteLine($"steps {start + 1,6}-{start + Window,6}: mean loss {mean:F6}");
}

double stepsPerSecond = (Steps - WarmUp) / ((double)ticks / System.Diagnostics.Stopwatch.Frequency);

// The same steps through the runtime network (its own fused online step), for the ratio.
using var runtime = Network<float>.Create(Sine.Spec, seed: 7);
using var runtimeWs = runtime.CreateWorkspace(1);
using var runtimeBuffers = optimizer.CreateBuffers<float>(Sine.ParameterCount);
var runtimeState = default(OptimizerState);
random = new XorShift(42);
long runtimeBegan = 0;
for (int step = 0; step < Steps; step++)
{
    if (step == WarmUp) runtimeBegan = System.Diagnostics.Stopwatch.GetTimestamp();
    x[0] = random.NextSigned();
    x[1] = random.NextSigned();
    y[0] = MathF.Sin(MathF.PI * x[0]) * MathF.Cos(MathF.PI * x[1]) / 2;
    runtime.TrainOnline(x, y, runtimeWs, optimizer, ref runtimeState, runtimeBuffers);
}
double runtimeStepsPerSecond = (Steps - WarmUp) / ((double)(System.Diagnostics.Stopwatch.GetTimestamp() - runtimeBegan) / System.Diagnostics.Stopwatch.Frequency);

Console.WriteLine($"bytes allocated over steps {WarmUp}-{Steps}: {allocated}");
Console.WriteLine($"generated TrainOnline (declared Adam): {stepsPerSecond:N0} steps/s; runtime Network.TrainOnline: {runtimeStepsPerSecond:N0} steps/s "
    + $"(generated ÷ runtime time {runtimeStepsPerSecond / stepsPerSecond:F2})");
if (allocated != 0 || !(last < first / 4))
{
    Console.Error.WriteLine(allocated != 0 ? "FAIL: the steady-state steps allocated" : "FAIL: the loss did not go down");
    return 1;
}
return 0;

/// <summary>2-16-1: tanh hidden layer, identity output, quadratic cost; Adam, η = 3·10⁻³; θ drawn from seed 7.</summary>
[Network(Seed = 7)]
[Optimizer(typeof(Adam), LearningRate = 3e-3)]
[Dense(2, 16, typeof(Tanh))]
[Dense(16, 1)]
internal static partial class Sine;

/// <summary>Marsaglia's xorshift32: a seeded, allocation-free source of uniform numbers in [−1, 1).</summary>
internal struct XorShift(uint seed)
{
    private uint _state = seed == 0 ? 1u : seed;

    public float NextSigned()
    {
        _state ^= _state << 13;
        _state ^= _state >> 17;
        _state ^= _state << 5;
        return (_state >> 8) * (2f / (1 << 24)) - 1f;
    }
}
