namespace Backprop.Functional;

/// <summary>An LSTM layer of a generated network (see <see cref="NetworkAttribute"/>), the runtime's <see cref="Lstm"/>:
/// it reads sequences [batch × time × <paramref name="inputs"/>] and gives the state after each sequence's last step
/// [batch × <paramref name="hidden"/>] to the dense layers after it, or every step's state to a recurrent layer after it.
/// Recurrent layers come first, before at least one <see cref="DenseAttribute"/> (BPF012, BPF013). Parameters in PyTorch's
/// layout (<c>weight_ih_l0</c> [4H × I], <c>weight_hh_l0</c> [4H × H], <c>bias_ih_l0</c>, <c>bias_hh_l0</c>, gates i, f, g, o);
/// h₀ = c₀ = 0.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="inputs">Features per time step; the previous recurrent layer's hidden size, if any.</param>
/// <param name="hidden">H, the width of the hidden state h (and of the cell c).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class LstmAttribute(int inputs, int hidden) : LayerAttribute
{
    /// <summary>Features per time step of the input sequence.</summary>
    public int Inputs { get; } = inputs;

    /// <summary>Width of the hidden state h.</summary>
    public int Hidden { get; } = hidden;
}
