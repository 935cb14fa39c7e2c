namespace Backprop.Functional;

/// <summary>One fully connected layer of a generated network (see <see cref="NetworkAttribute"/>):
/// zˡ = Wˡaˡ⁻¹ + bˡ, aˡ = σ(zˡ), with Wˡ [outputs × inputs]. Layers are taken in declaration order.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="inputs">Width of aˡ⁻¹; must equal the previous layer's <paramref name="outputs"/>.</param>
/// <param name="outputs">Width of zˡ and aˡ.</param>
/// <param name="activation">σ: one of the library's activation structs (e.g. <c>typeof(ReLU)</c>); <see langword="null"/>
/// means <see cref="Identity"/>.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class DenseAttribute(int inputs, int outputs, Type? activation = null) : LayerAttribute
{
    /// <summary>Width of the layer's input aˡ⁻¹.</summary>
    public int Inputs { get; } = inputs;

    /// <summary>Width of the layer's output aˡ.</summary>
    public int Outputs { get; } = outputs;

    /// <summary>σ, an activation struct; <see langword="null"/> means <see cref="Identity"/>.</summary>
    public Type? Activation { get; } = activation;
}
