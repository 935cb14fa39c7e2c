namespace Backprop.Functional;

/// <summary>Fully connected layer: zˡ = Wˡaˡ⁻¹ + bˡ, aˡ = σ(zˡ), with Wˡ stored [outputs × inputs].
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Inputs">Width of aˡ⁻¹.</param>
/// <param name="Outputs">Width of zˡ and aˡ.</param>
/// <param name="Activation">σ.</param>
public sealed record Dense(int Inputs, int Outputs, ActivationKind Activation = ActivationKind.Identity) : Layer<Dense, DenseKernel>
{
    /// <summary>Width of the layer's input aˡ⁻¹.</summary>
    public override int Inputs { get; } = Inputs > 0 ? Inputs
        : throw new ArgumentOutOfRangeException(nameof(Inputs), Inputs, "a layer needs at least one input");

    /// <summary>Width of the layer's output aˡ.</summary>
    public override int Outputs { get; } = Outputs > 0 ? Outputs
        : throw new ArgumentOutOfRangeException(nameof(Outputs), Outputs, "a layer needs at least one output");

    /// <summary>Number of parameters: Outputs × Inputs weights plus Outputs biases, exact in a long (a single layer
    /// can exceed an int; whether it fits a network is <see cref="ParameterLayout.For"/>'s check against
    /// <see cref="ParameterLayout.MaxCount"/>).</summary>
    public long ParameterCount => checked((long)Outputs * Inputs + Outputs);

    /// <summary>σ: the loss may fuse with it when this layer is last.</summary>
    public override ActivationKind OutputActivation => Activation;

    /// <summary>Applied at every time step of a sequence edge (a head at every step of a recurrent layer that returns
    /// sequences): input [batch × time × Inputs], output [batch × time × Outputs], the same W and b at each step. As
    /// the last layer, the loss is then the mean over every (sequence, step) position that is not padding.</summary>
    public bool PerStep { get; init; }

    /// <inheritdoc/>
    public override EdgeShape Input => new(Inputs, PerStep);

    /// <inheritdoc/>
    public override EdgeShape Output => new(Outputs, PerStep);
}
