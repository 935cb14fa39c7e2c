namespace Backprop.Functional;

/// <summary>Marks a <c>static partial class</c> as a generated network: the Backprop.Functional source generator
/// reads the layer attributes on the same class (<see cref="DenseAttribute"/>, after recurrent <see cref="LstmAttribute"/>,
/// <see cref="GruAttribute"/> or <see cref="RnnAttribute"/> layers if any), in declaration order, and emits constant-sized
/// <c>Forward</c>, <c>Backward</c>, <c>TrainStep</c> and <c>Predict</c> methods unrolled layer by layer.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <example><code>
/// [Network(Loss = typeof(SoftmaxCrossEntropy))]
/// [Dense(784, 128, typeof(ReLU))]
/// [Dense(128, 10, typeof(Softmax))]
/// public static partial class MnistMlp;
/// </code></example>
/// <remarks>Read only at compile time, by the generator; nothing looks at it by reflection, so it is NativeAOT-safe.
/// Mistakes are compile-time diagnostics BPF001-BPF007 and BPF009-BPF014.</remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class NetworkAttribute : Attribute
{
    /// <summary>The cost C: one of the library's loss structs (<see cref="Quadratic"/>, <see cref="CrossEntropy"/>,
    /// <see cref="SoftmaxCrossEntropy"/>). Defaults to <see cref="Quadratic"/>.</summary>
    public Type Loss { get; set; } = typeof(Quadratic);

    /// <summary>How the generated <c>Initialize</c> draws θ (as <see cref="Network{T}.Create"/> with the same scheme and seed).
    /// Defaults to <see cref="Initialization.PyTorch"/>.</summary>
    public Initialization Initialization { get; set; } = Initialization.PyTorch;

    /// <summary>The seed of the generated <c>Initialize</c>. Defaults to 0.</summary>
    public long Seed { get; set; }

    /// <summary>The threads of the generated <c>CreateWorkspace</c> (<see cref="Workspace{T}.Threads"/>), at least 1 (BPF010
    /// otherwise). Defaults to 1.</summary>
    public int Threads { get; set; } = 1;
}
