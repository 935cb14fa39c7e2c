using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Long short-term memory (Hochreiter &amp; Schmidhuber 1997, with PyTorch's gate order and two biases), at
/// each step t:
/// <code>
/// i = σ(W_ii xₜ + b_ii + W_hi hₜ₋₁ + b_hi)      input gate
/// f = σ(W_if xₜ + b_if + W_hf hₜ₋₁ + b_hf)      forget gate
/// g = tanh(W_ig xₜ + b_ig + W_hg hₜ₋₁ + b_hg)   candidate
/// o = σ(W_io xₜ + b_io + W_ho hₜ₋₁ + b_ho)      output gate
/// cₜ = f ⊙ cₜ₋₁ + i ⊙ g
/// hₜ = o ⊙ tanh(cₜ)
/// </code>
/// Parameters as torch.nn.LSTM's: <c>weight_ih_l0</c> [4H × I], <c>weight_hh_l0</c> [4H × H], <c>bias_ih_l0</c> [4H],
/// <c>bias_hh_l0</c> [4H], rows in the order i, f, g, o; then <c>h0</c>, <c>c0</c> [H] when the initial state is learned.
/// <para>The δ recursion: with δₜ the gradient at the four pre-activations, ∂C/∂hₜ₋₁ = W_hhᵀδₜ and
/// ∂C/∂cₜ₋₁ = ∂C/∂cₜ ⊙ f: the cell path multiplies by f, not by a σ′ ≤ ¼ and a weight, which is why an LSTM with
/// f ≈ 1 carries a gradient over many steps where an Elman RNN's vanishes.</para>
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public sealed record Lstm : RecurrentLayer<Lstm, LstmKernel>
{
    /// <summary>An LSTM reading <paramref name="inputs"/> features per step into <paramref name="hidden"/> units.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A width is not positive.</exception>
    public Lstm(int inputs, int hidden) : base(inputs, hidden) { }
}

/// <summary>The kernels of an <see cref="Lstm"/>: BPTT over <see cref="LstmCell"/>.</summary>
public readonly struct LstmKernel : ILayerKernel<Lstm>
{
    /// <summary><c>Lstm</c>.</summary>
    public static string Kind => "Lstm";

    /// <inheritdoc cref="ILayerKernel{TLayer}.Parameters"/>
    public static ParameterTensor[] Parameters(Lstm layer) => Recurrence<LstmCell>.Parameters(layer.Inputs, layer.Hidden, layer.InitialState);

    /// <inheritdoc cref="ILayerKernel{TLayer}.ScratchPerSample"/>
    public static int ScratchPerSample(Lstm layer, int time) => Recurrence<LstmCell>.ScratchPerSample(layer.Inputs, layer.Hidden, time);

    /// <summary>[W_ih | W_hh] packed once per pass (backward: W_hh), a copy for each of two threads (<see cref="LstmSteps"/>),
    /// and room for the two halves' partial sums of ∂C/∂[W_ih | W_hh] and ∂C/∂b.</summary>
    public static int ScratchPerLayer(Lstm layer) => Recurrence<LstmCell>.ScratchPerLayer(layer.Inputs, layer.Hidden);

    /// <inheritdoc cref="ILayerKernel{TLayer}.Forward"/>
    public static void Forward<T>(Lstm layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        Recurrence<LstmCell>.Forward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);

    /// <inheritdoc cref="ILayerKernel{TLayer}.Backward"/>
    public static void Backward<T>(Lstm layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        Recurrence<LstmCell>.Backward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);

    /// <summary>The R-operator of Forward (see <see cref="LstmTangent"/>): ḣ and ċ along (v, ẋ), equal lengths only.</summary>
    /// <exception cref="NotSupportedException">The batch has per-sequence lengths.</exception>
    public static void ForwardTangent<T>(Lstm layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        LstmTangent.Forward(layer, in p);

    /// <summary>BPTT and its R-operator (see <see cref="LstmTangent"/>): ∂C/∂x, R{∂C/∂x} and this layer's slice of Hv.</summary>
    /// <exception cref="NotSupportedException">The batch has per-sequence lengths.</exception>
    public static void BackwardTangent<T>(Lstm layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        LstmTangent.Backward(layer, in p);

    /// <summary><c>inputs-hidden[:sequences][:learned-state|:carried-state]</c>, e.g. <c>28-128</c>.</summary>
    public static string Format(Lstm layer) => layer.FormatShared();

    /// <inheritdoc cref="ILayerKernel{TLayer}.TryParse"/>
    public static bool TryParse(string arguments, [NotNullWhen(true)] out Lstm? layer, out string reason) =>
        RecurrentText.TryParseGated(arguments, Kind, static (inputs, hidden, sequences, initial) =>
            new Lstm(inputs, hidden) { ReturnSequences = sequences, InitialState = initial }, out layer, out reason);
}

/// <summary>The LSTM cell (see <see cref="Lstm"/>): its backward step for every row below eight rows (its forward steps and the
/// backward ones from eight rows are <see cref="LstmSteps"/>').</summary>
internal readonly struct LstmCell : IRecurrentCell
{
    public static int Gates => 4;
    public static bool HasCell => true;
    public static int Extra => 1;
    public static bool Separate => false;

    public static void StepBack<T>(scoped in CellStep<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = s.Hidden, gh = 4 * h;
        for (int r = 0; r < s.Rows; r++)
            LstmSteps.CellBack(s.Gates.Slice(r * gh, gh), s.Extra.Slice(r * h, h), s.CPrev.Slice(r * h, h), s.DH.Slice(r * h, h), s.DC.Slice(r * h, h));
    }

    /// <summary>y ← y(1 − y) ⊙ upstream: σ's Jacobian from its output, in place; <paramref name="temp"/> is overwritten.</summary>
    internal static void SigmoidBack<T>(Span<T> y, ReadOnlySpan<T> upstream, Span<T> temp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Subtract(T.One, y, temp);
        TensorPrimitives.Multiply(y, temp, y);
        TensorPrimitives.Multiply(y, upstream, y);
    }
}
