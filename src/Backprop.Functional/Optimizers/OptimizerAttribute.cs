namespace Backprop.Functional;

/// <summary>The optimizer of a generated network (see <see cref="NetworkAttribute"/>), fixed at compile time: the
/// generator emits <c>DeclaredOptimizer</c> (the equal runtime record), <c>CreateOptimizerBuffers</c>, and <c>TrainStep</c>
/// (and, for <see cref="Sgd"/>, <see cref="Adam"/> and <see cref="AdamW"/>, <c>TrainOnline</c>) overloads without an
/// optimizer argument that call this optimizer's update directly: no virtual call, no type test. The overloads taking
/// any <see cref="GradientTransform"/> stay. Only the properties set are passed; the others keep the record's defaults.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="optimizer"><c>typeof(Sgd)</c>, <c>typeof(Momentum)</c>, <c>typeof(Adam)</c>, <c>typeof(AdamW)</c> or
/// <c>typeof(RmsProp)</c> (BPF009 otherwise).</param>
/// <example><code>
/// [Network(Loss = typeof(Quadratic))]
/// [Optimizer(typeof(Adam), LearningRate = 1e-3)]
/// [Dense(16, 16, typeof(Tanh))]
/// [Dense(16, 1)]
/// public static partial class Tiny;
/// // Tiny.TrainOnline(theta, x, y, ws, ref state, buffers);
/// </code></example>
/// <remarks>Read only at compile time, by the generator (nothing reads it by reflection). A value out of the record's
/// range is BPF010, a property the optimizer does not take BPF011.</remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class OptimizerAttribute(Type optimizer) : Attribute
{
    /// <summary>The optimizer record's type.</summary>
    public Type Optimizer { get; } = optimizer;

    /// <summary>η, a finite number ≥ 0 (every optimizer).</summary>
    public double LearningRate { get; set; }

    /// <summary>λ, a finite number ≥ 0 (every optimizer; decoupled in <see cref="AdamW"/>).</summary>
    public double WeightDecay { get; set; }

    /// <summary>β₁ in [0, 1) (<see cref="Adam"/>, <see cref="AdamW"/>).</summary>
    public double Beta1 { get; set; }

    /// <summary>β₂ in [0, 1) (<see cref="Adam"/>, <see cref="AdamW"/>).</summary>
    public double Beta2 { get; set; }

    /// <summary>ε, a finite number ≥ 0 (<see cref="Adam"/>, <see cref="AdamW"/>, <see cref="RmsProp"/>).</summary>
    public double Epsilon { get; set; }

    /// <summary>AMSGrad (<see cref="Adam"/>, <see cref="AdamW"/>).</summary>
    public bool Amsgrad { get; set; }

    /// <summary>μ, a finite number ≥ 0 (<see cref="Momentum"/>, <see cref="RmsProp"/>).</summary>
    public double Mu { get; set; }

    /// <summary>Dampening in [0, 1] (<see cref="Momentum"/>).</summary>
    public double Dampening { get; set; }

    /// <summary>α in [0, 1] (<see cref="RmsProp"/>).</summary>
    public double Alpha { get; set; }

    /// <summary>Centred second moment (<see cref="RmsProp"/>).</summary>
    public bool Centered { get; set; }
}
