using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Elman recurrent layer (torch.nn.RNN), at each step t:
/// <code>
/// hₜ = φ(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh),   φ = tanh or ReLU
/// </code>
/// Parameters as torch.nn.RNN's: <c>weight_ih_l0</c> [H × I], <c>weight_hh_l0</c> [H × H], <c>bias_ih_l0</c> [H],
/// <c>bias_hh_l0</c> [H]; then <c>h0</c> [H] when the initial state is learned.
/// <para>The δ recursion is BP2 with the layer below replaced by the step before: δₜ = ∂C/∂hₜ ⊙ φ′, and
/// ∂C/∂hₜ₋₁ = W_hhᵀδₜ (+ the loss at step t − 1). Each step back multiplies by W_hhᵀ and by φ′ ≤ 1, so with small
/// recurrent weights the gradient falls geometrically with the distance from the loss: the vanishing gradient.</para>
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public sealed record Rnn : RecurrentLayer<Rnn, RnnKernel>
{
    /// <summary>An Elman RNN reading <paramref name="inputs"/> features per step into <paramref name="hidden"/> units.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A width is not positive, or the activation is not Tanh or ReLU.</exception>
    public Rnn(int inputs, int hidden, ActivationKind activation = ActivationKind.Tanh) : base(inputs, hidden) =>
        Activation = activation is ActivationKind.Tanh or ActivationKind.ReLU ? activation
            : throw new ArgumentOutOfRangeException(nameof(activation), activation, "an Rnn's activation is Tanh or ReLU, as torch.nn.RNN's nonlinearity");

    /// <summary>φ: Tanh or ReLU.</summary>
    public ActivationKind Activation { get; }

    /// <inheritdoc/>
    protected override bool PrintMembers(System.Text.StringBuilder builder)
    {
        base.PrintMembers(builder);
        builder.Append(", Activation = ").Append(Activation);
        return true;
    }
}

/// <summary>The kernels of an <see cref="Rnn"/>: BPTT over the tanh or ReLU cell.</summary>
public readonly struct RnnKernel : ILayerKernel<Rnn>
{
    /// <summary><c>Rnn</c>.</summary>
    public static string Kind => "Rnn";

    /// <inheritdoc cref="ILayerKernel{TLayer}.Parameters"/>
    public static ParameterTensor[] Parameters(Rnn layer) => Recurrence<RnnCell<TanhPhi>>.Parameters(layer.Inputs, layer.Hidden, layer.InitialState);

    /// <inheritdoc cref="ILayerKernel{TLayer}.ScratchPerSample"/>
    public static int ScratchPerSample(Rnn layer, int time) => Recurrence<RnnCell<TanhPhi>>.ScratchPerSample(layer.Inputs, layer.Hidden, time);

    /// <summary>[W_ih | W_hh] packed once per pass (backward: W_hh), one copy both threads read (<see cref="RnnSteps"/>),
    /// and room for the two halves' partial sums of ∂C/∂[W_ih | W_hh] and ∂C/∂b.</summary>
    public static int ScratchPerLayer(Rnn layer) => Recurrence<RnnCell<TanhPhi>>.ScratchPerLayer(layer.Inputs, layer.Hidden);

    /// <inheritdoc cref="ILayerKernel{TLayer}.Forward"/>
    public static void Forward<T>(Rnn layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (layer.Activation == ActivationKind.ReLU) Recurrence<RnnCell<ReluPhi>>.Forward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);
        else Recurrence<RnnCell<TanhPhi>>.Forward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);
    }

    /// <inheritdoc cref="ILayerKernel{TLayer}.Backward"/>
    public static void Backward<T>(Rnn layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (layer.Activation == ActivationKind.ReLU) Recurrence<RnnCell<ReluPhi>>.Backward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);
        else Recurrence<RnnCell<TanhPhi>>.Backward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);
    }

    /// <summary>The R-operator of Forward (see <see cref="RnnTangent"/>): ḣ₀…ḣ_T along (v, ẋ), equal lengths only.</summary>
    /// <exception cref="NotSupportedException">The batch has per-sequence lengths.</exception>
    public static void ForwardTangent<T>(Rnn layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        RnnTangent.Forward(layer, in p);

    /// <summary>BPTT and its R-operator (see <see cref="RnnTangent"/>): ∂C/∂x, R{∂C/∂x} and this layer's slice of Hv.</summary>
    /// <exception cref="NotSupportedException">The batch has per-sequence lengths.</exception>
    public static void BackwardTangent<T>(Rnn layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        RnnTangent.Backward(layer, in p);

    /// <summary><c>inputs-hidden:Tanh|ReLU[:sequences][:learned-state|:carried-state]</c>, e.g. <c>28-128:Tanh</c>.</summary>
    public static string Format(Rnn layer) => layer.FormatShared(layer.Activation.ToString());

    /// <inheritdoc cref="ILayerKernel{TLayer}.TryParse"/>
    public static bool TryParse(string arguments, [NotNullWhen(true)] out Rnn? layer, out string reason)
    {
        layer = null;
        if (!RecurrentText.TryParse(arguments, Kind, out int inputs, out int hidden, out bool sequences, out var initial, out string? other, out reason))
            return false;
        var activation = ActivationKind.Tanh;
        if (other is not null && !(LayerListText.TryParseName(other, out activation) && activation is ActivationKind.Tanh or ActivationKind.ReLU))
        {
            reason = $"an Rnn's activation is Tanh or ReLU, not \"{InputText.Excerpt(other)}\"";
            return false;
        }
        layer = new Rnn(inputs, hidden, activation) { ReturnSequences = sequences, InitialState = initial };
        return true;
    }
}

/// <summary>φ of an <see cref="Rnn"/>: applied in place, and its derivative from its output.</summary>
internal interface IRnnPhi
{
    static abstract void Apply<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>δ ← δ ⊙ φ′, φ′ from the output y.</summary>
    static abstract void Back<T>(ReadOnlySpan<T> y, Span<T> delta, Span<T> temp) where T : unmanaged, IFloatingPointIeee754<T>;
}

internal readonly struct TanhPhi : IRnnPhi
{
    public static void Apply<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T> => AlignedMath.Tanh<T>(x, x);

    public static void Back<T>(ReadOnlySpan<T> y, Span<T> delta, Span<T> temp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Multiply(y, y, temp);
        TensorPrimitives.Subtract(T.One, temp, temp);
        TensorPrimitives.Multiply(delta, temp, delta);
    }
}

internal readonly struct ReluPhi : IRnnPhi
{
    public static void Apply<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(x, T.Zero, x);

    public static void Back<T>(ReadOnlySpan<T> y, Span<T> delta, Span<T> temp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int j = 0; j < y.Length; j++)
            if (!(y[j] > T.Zero)) delta[j] = T.Zero;   // φ′(0) = 0, as PyTorch's ReLU
    }
}

/// <summary>The Elman cell, hₜ = φ(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh): its forward steps are <see cref="RnnSteps"/>' (the
/// gates hold hₜ after them); its backward step for every row below <see cref="Recurrence{TCell}"/>'s TransposeRows rows.</summary>
internal readonly struct RnnCell<TPhi> : IRecurrentCell where TPhi : struct, IRnnPhi
{
    public static int Gates => 1;
    public static bool HasCell => false;
    public static int Extra => 0;
    public static bool Separate => false;

    public static void StepBack<T>(scoped in CellStep<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // δₜ = ∂C/∂hₜ ⊙ φ′: the gates held hₜ = φ(…); they now hold δₜ.
        TPhi.Back<T>(s.Gates, s.DH, s.Temp[..s.DH.Length]);
        s.DH.CopyTo(s.Gates);
    }
}
