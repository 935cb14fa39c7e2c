namespace Backprop.Functional;

/// <summary>An Elman recurrent layer of a generated network (see <see cref="NetworkAttribute"/>), the runtime's
/// <see cref="Rnn"/>: hₜ = φ(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh) over sequences [batch × time × <paramref name="inputs"/>],
/// giving the state after each sequence's last step [batch × <paramref name="hidden"/>] to the dense layers after it, or
/// every step's state to a recurrent layer after it. Recurrent layers come first, before at least one
/// <see cref="DenseAttribute"/> (BPF012, BPF013). Parameters in PyTorch's layout (<c>weight_ih_l0</c> [H × I],
/// <c>weight_hh_l0</c> [H × H], <c>bias_ih_l0</c>, <c>bias_hh_l0</c>); h₀ = 0.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="inputs">Features per time step; the previous recurrent layer's hidden size, if any.</param>
/// <param name="hidden">H, the width of the hidden state h.</param>
/// <param name="activation">φ: <c>typeof(Tanh)</c> or <c>typeof(ReLU)</c> (torch.nn.RNN's nonlinearity; BPF014 otherwise);
/// <see langword="null"/> means <see cref="Tanh"/>.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class RnnAttribute(int inputs, int hidden, Type? activation = null) : LayerAttribute
{
    /// <summary>Features per time step of the input sequence.</summary>
    public int Inputs { get; } = inputs;

    /// <summary>Width of the hidden state h.</summary>
    public int Hidden { get; } = hidden;

    /// <summary>φ, <see cref="Tanh"/> or <see cref="ReLU"/>; <see langword="null"/> means <see cref="Tanh"/>.</summary>
    public Type? Activation { get; } = activation;
}
