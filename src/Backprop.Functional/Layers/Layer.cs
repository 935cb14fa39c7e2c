namespace Backprop.Functional;

/// <summary>Description of one layer: its input and output widths. Layers hold no numbers; their
/// parameters are a slice of the network's flat vector (see <see cref="ParameterLayout"/>).
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public abstract record Layer
{
    /// <summary>Width of the layer's input aˡ⁻¹.</summary>
    public abstract int Inputs { get; }

    /// <summary>Width of the layer's output aˡ.</summary>
    public abstract int Outputs { get; }
}
