using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>Gated recurrent unit (Cho et al. 2014, as torch.nn.GRU computes it), at each step t:
/// <code>
/// r = σ(W_ir xₜ + b_ir + W_hr hₜ₋₁ + b_hr)             reset gate
/// z = σ(W_iz xₜ + b_iz + W_hz hₜ₋₁ + b_hz)             update gate
/// n = tanh(W_in xₜ + b_in + r ⊙ (W_hn hₜ₋₁ + b_hn))    candidate (b_hn inside the reset product)
/// hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁
/// </code>
/// Parameters as torch.nn.GRU's: <c>weight_ih_l0</c> [3H × I], <c>weight_hh_l0</c> [3H × H], <c>bias_ih_l0</c> [3H],
/// <c>bias_hh_l0</c> [3H], rows in the order r, z, n; then <c>h0</c> [H] when the initial state is learned.
/// <para>The δ recursion: ∂C/∂hₜ₋₁ = z ⊙ ∂C/∂hₜ + W_hhᵀδʰₜ, where δʰ is δ with its n block multiplied by r; the
/// direct z ⊙ ∂C/∂hₜ term is the GRU's gradient highway.</para>
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public sealed record Gru : RecurrentLayer<Gru, GruKernel>
{
    /// <summary>A GRU reading <paramref name="inputs"/> features per step into <paramref name="hidden"/> units.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A width is not positive.</exception>
    public Gru(int inputs, int hidden) : base(inputs, hidden) { }
}

/// <summary>The kernels of a <see cref="Gru"/>: BPTT over <see cref="GruCell"/>.</summary>
public readonly struct GruKernel : ILayerKernel<Gru>
{
    /// <summary><c>Gru</c>.</summary>
    public static string Kind => "Gru";

    /// <inheritdoc cref="ILayerKernel{TLayer}.Parameters"/>
    public static ParameterTensor[] Parameters(Gru layer) => Recurrence<GruCell>.Parameters(layer.Inputs, layer.Hidden, layer.InitialState);

    /// <inheritdoc cref="ILayerKernel{TLayer}.ScratchPerSample"/>
    public static int ScratchPerSample(Gru layer, int time) => Recurrence<GruCell>.ScratchPerSample(layer.Inputs, layer.Hidden, time);

    /// <summary>[W_ih | W_hh] (forward) or W_hh (backward) packed once per pass for the steps (<see cref="GruSteps"/>),
    /// and room for the weight gradients' partial sums.</summary>
    public static int ScratchPerLayer(Gru layer) => Recurrence<GruCell>.ScratchPerLayer(layer.Inputs, layer.Hidden);

    /// <inheritdoc cref="ILayerKernel{TLayer}.Forward"/>
    public static void Forward<T>(Gru layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        Recurrence<GruCell>.Forward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);

    /// <inheritdoc cref="ILayerKernel{TLayer}.Backward"/>
    public static void Backward<T>(Gru layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        Recurrence<GruCell>.Backward(layer.Inputs, layer.Hidden, layer.ReturnSequences, layer.InitialState, in p);

    /// <summary>The R-operator of Forward (see <see cref="GruTangent"/>): ḣ along (v, ẋ), equal lengths only.</summary>
    /// <exception cref="NotSupportedException">The batch has per-sequence lengths.</exception>
    public static void ForwardTangent<T>(Gru layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        GruTangent.Forward(layer, in p);

    /// <summary>BPTT and its R-operator (see <see cref="GruTangent"/>): ∂C/∂x, R{∂C/∂x} and this layer's slice of Hv.</summary>
    /// <exception cref="NotSupportedException">The batch has per-sequence lengths.</exception>
    public static void BackwardTangent<T>(Gru layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        GruTangent.Backward(layer, in p);

    /// <summary><c>inputs-hidden[:sequences][:learned-state|:carried-state]</c>, e.g. <c>28-128</c>.</summary>
    public static string Format(Gru layer) => layer.FormatShared();

    /// <inheritdoc cref="ILayerKernel{TLayer}.TryParse"/>
    public static bool TryParse(string arguments, [NotNullWhen(true)] out Gru? layer, out string reason) =>
        RecurrentText.TryParseGated(arguments, Kind, static (inputs, hidden, sequences, initial) =>
            new Gru(inputs, hidden) { ReturnSequences = sequences, InitialState = initial }, out layer, out reason);
}

/// <summary>The GRU cell (see <see cref="Gru"/>): its backward step for every row below eight rows (its forward steps and the
/// backward ones from eight rows are <see cref="GruSteps"/>', which keep W_hn hₜ₋₁ + b_hn for it).</summary>
internal readonly struct GruCell : IRecurrentCell
{
    public static int Gates => 3;
    public static bool HasCell => false;
    public static int Extra => 1;
    public static bool Separate => true;

    public static void StepBack<T>(scoped in CellStep<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = s.Hidden, gh = 3 * h;
        for (int r = 0; r < s.Rows; r++)
            GruSteps.CellBack(s.Gates.Slice(r * gh, gh), s.DGh.Slice(r * gh, gh), s.Extra.Slice(r * h, h), s.HPrev.Slice(r * h, h),
                s.DH.Slice(r * h, h), s.DPrev.Slice(r * h, h));
    }
}
