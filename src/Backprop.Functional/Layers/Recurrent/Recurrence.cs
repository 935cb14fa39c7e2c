using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>One recurrent cell's shape (gate blocks, a cell state, extra blocks, a separate hidden side) and its backward
/// step for every row at once, which the generic backward steps run below eight rows; the forward steps and the
/// backward ones from eight rows are each cell's own (<see cref="LstmSteps"/>, <see cref="GruSteps"/>,
/// <see cref="RnnSteps"/>), the unrolling, the weight gradients and the bookkeeping <see cref="Recurrence{TCell}"/>'s.
/// Implemented by the cells of <see cref="Rnn"/>, <see cref="Lstm"/> and <see cref="Gru"/>.</summary>
internal interface IRecurrentCell
{
    /// <summary>G: gate blocks of H rows in weight_ih / weight_hh (RNN 1, LSTM 4, GRU 3).</summary>
    static abstract int Gates { get; }

    /// <summary>Whether the cell has a second state c (LSTM).</summary>
    static abstract bool HasCell { get; }

    /// <summary>[rows × H] blocks per step the cell keeps besides the gates (LSTM: tanh cₜ; GRU: W_hn h + b_hn).</summary>
    static abstract int Extra { get; }

    /// <summary>Whether ∂C/∂(W_hh h + b_hh) differs from ∂C/∂(W_ih x + b_ih) (GRU: its n block is multiplied by r),
    /// and whether h′ depends on h other than through W_hh h (GRU: z ⊙ h).</summary>
    static abstract bool Separate { get; }

    /// <summary>Backward step: from ∂C/∂hₜ (<c>DH</c>, may be overwritten) and ∂C/∂cₜ (<c>DC</c>, turned into ∂C/∂cₜ₋₁)
    /// writes ∂C/∂(W_ih xₜ + b_ih) over the gates, ∂C/∂(W_hh hₜ₋₁ + b_hh) into <c>DGh</c> when <see cref="Separate"/>,
    /// and, when <see cref="Separate"/>, the part of ∂C/∂hₜ₋₁ that does not pass through W_hh into <c>DPrev</c>.</summary>
    static abstract void StepBack<T>(scoped in CellStep<T> s) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>The spans of one backward time step, [rows × …] each, row-major.</summary>
internal readonly ref struct CellStep<T>
{
    public Span<T> Gates { get; init; }
    public Span<T> DGh { get; init; }
    public ReadOnlySpan<T> HPrev { get; init; }
    public ReadOnlySpan<T> CPrev { get; init; }
    public Span<T> Extra { get; init; }
    public Span<T> DH { get; init; }
    public Span<T> DC { get; init; }
    public Span<T> DPrev { get; init; }
    public Span<T> Temp { get; init; }
    public int Rows { get; init; }
    public int Hidden { get; init; }
}

/// <summary>Where a recurrent layer keeps its numbers in its scratch, for a batch of <c>rows</c> sequences of
/// <c>time</c> steps. The scratch is the layer's own: it is laid out time-major, so that each step's rows are one
/// contiguous matrix for the GEMMs (the edges stay batch-first).</summary>
internal readonly struct RecurrentLayout
{
    public RecurrentLayout(int gates, bool hasCell, int extra, bool separate, int inputs, int hidden, int rows, int time)
    {
        int gh = gates * hidden, states = hasCell ? 2 : 1;
        int step = rows * hidden;
        Inputs = inputs;
        Hidden = hidden;
        GH = gh;
        Rows = rows;
        Time = time;
        XT = 0;
        G = XT + time * rows * inputs;
        DGh = G + time * rows * gh;
        H = DGh + (separate ? time * rows * gh : 0);
        C = H + (time + 1) * step;
        Ex = C + (hasCell ? (time + 1) * step : 0);
        Tmp = Ex + time * extra * step;
        DA = Tmp + rows * TempWidth(gates, hidden);
        DB = DA + step;
        DC = DB + step;
        D0 = DC + (hasCell ? step : 0);
        Norms = D0 + states * step;
        End = Norms + 2 * time;
    }

    /// <summary>Values per sample: time·(I + G·H·(1 + separate) + H·(states + extra)) + the per-step and gradient buffers.</summary>
    public static int PerSample(int gates, bool hasCell, int extra, bool separate, int inputs, int hidden, int time)
    {
        long gh = (long)gates * hidden, states = hasCell ? 2 : 1;
        long perStep = inputs + gh * (separate ? 2 : 1) + hidden * (states + extra);
        long total = time * perStep + states * hidden + TempWidth(gates, hidden) + 2L * hidden + (hasCell ? hidden : 0) + states * hidden
            + 2L * time;   // ‖∂C/∂hₜ‖ per step, and the second half's ‖·‖² (counted per sample; spare beyond one row)
        return total <= int.MaxValue ? (int)total
            : throw new ArgumentOutOfRangeException(nameof(time), $"a recurrent layer [{inputs} → {hidden}] over {time} steps keeps {total} values per sample, more than an int indexes");
    }

    private static int TempWidth(int gates, int hidden) => Math.Max(gates, 4) * hidden;

    public int Inputs { get; }
    public int Hidden { get; }
    public int GH { get; }
    public int Rows { get; }
    public int Time { get; }

    /// <summary>Offsets: the input time-major [time × rows × I]; the gates [time × rows × GH]; GRU's hidden-side gate
    /// gradients; h₀…h_T and c₀…c_T [(time + 1) × rows × H]; the extra blocks; a per-step temporary; two ∂C/∂h and one
    /// ∂C/∂c [rows × H]; ∂C/∂h₀ (and ∂C/∂c₀) [rows × H] each.</summary>
    public int XT { get; }
    public int G { get; }
    public int DGh { get; }
    public int H { get; }
    public int C { get; }
    public int Ex { get; }
    public int Tmp { get; }
    public int DA { get; }
    public int DB { get; }
    public int DC { get; }
    public int D0 { get; }

    /// <summary>‖∂C/∂hₜ‖ over the batch for t = 0 … time − 1 (hₜ the state step t gives), written by the backward pass.</summary>
    public int Norms { get; }

    public int End { get; }

    public int Step => Rows * Hidden;
}

/// <summary>Backpropagation through time for any <see cref="IRecurrentCell"/>: the forward pass unrolled over the
/// steps, keeping each step's gates and states; the backward pass runs back from the last step, the cell's
/// vector–Jacobian product at each, and sums the weight gradients over the steps.</summary>
/// <remarks>
/// How this generalises the dense equations. Unrolled, step t is a dense layer whose input is [xₜ, hₜ₋₁] and whose
/// weights W_ih, W_hh are shared by every step; its δ is the gradient with respect to the gate pre-activations. So
/// <list type="bullet">
/// <item>BP4 and BP3 are unchanged, summed over steps: ∂C/∂W_ih = Σₜ δₜᵀxₜ and ∂C/∂W_hh = Σₜ δₜᵀhₜ₋₁ (each one GEMM
/// over all time·rows rows: <see cref="Equations.WeightGradient{T}"/>), ∂C/∂b = Σₜ δₜ (<see cref="Equations.BiasGradient{T}"/>);</item>
/// <item>BP2 becomes the recursion in time: ∂C/∂hₜ₋₁ = W_hhᵀδₜ (+ the cell's direct term) + the loss's own ∂C/∂hₜ₋₁
/// when the layer returns sequences, and then the cell's Jacobian at t − 1 turns it into δₜ₋₁, as σ′ does in BP2;</item>
/// <item>∂C/∂xₜ = W_ihᵀδₜ is BP2's product towards the layer below (<see cref="Equations.InputGradient{T}"/>).</item>
/// </list>
/// Padded steps (t ≥ a row's length) hold the state: hₜ = hₜ₋₁, cₜ = cₜ₋₁, their output is 0 and, backward, their δ is
/// 0 and ∂C/∂h passes through unchanged, so neither the padding's values nor its count change any result.
/// </remarks>
internal static class Recurrence<TCell> where TCell : struct, IRecurrentCell
{
    /// <summary>From this many rows the backward steps read W_hh packed (<see cref="LstmSteps"/>, <see cref="GruSteps"/>,
    /// <see cref="RnnSteps"/>); below, the generic steps' products read W_hh as it is. The forward steps run on the packed
    /// weights at any rows (one row per panel pass below this), and a predictor's one-row passes keep the packing.</summary>
    private const int TransposeRows = 8;

    internal static int ScratchPerSample(int inputs, int hidden, int time) =>
        RecurrentLayout.PerSample(TCell.Gates, TCell.HasCell, TCell.Extra, TCell.Separate, inputs, hidden, time);

    /// <summary>The step weights (<see cref="StepWeights"/>), then room for the two halves' partial sums of ∂C/∂W_hh,
    /// ∂C/∂W_ih and ∂C/∂b (and the GRU's ∂C/∂b_hh) and their k blocks' running sums
    /// (<see cref="RecurrentGradients{T}.HalfLength"/>).</summary>
    internal static int ScratchPerLayer(int inputs, int hidden) =>
        checked(StepWeights(inputs, hidden) + 2 * RecurrentGradients<float>.HalfLength(TCell.Gates * hidden, inputs, hidden, TCell.Separate));

    /// <summary>The per-layer scratch's first region: the LSTM's packed weights (<see cref="LstmSteps"/>), two copies, each
    /// of the two threads reading its own, packed by itself; or the GRU's (<see cref="GruSteps"/>) or the RNN's
    /// (<see cref="RnnSteps"/>), one copy both threads read.</summary>
    private static int StepWeights(int inputs, int hidden) =>
        Fused ? checked(2 * LstmSteps.PackedLength(inputs, hidden)) : GruFused ? GruSteps.PackedLength(inputs, hidden) : RnnSteps.PackedLength(inputs, hidden);

    /// <summary>Whether the steps are <see cref="LstmSteps"/>' (the LSTM's, from <see cref="TransposeRows"/> rows).</summary>
    private static bool Fused => typeof(TCell) == typeof(LstmCell);

    /// <summary>Whether the steps are <see cref="GruSteps"/>' (the GRU's: forward at any rows, backward from
    /// <see cref="TransposeRows"/> rows; the weights packed once per pass, one copy both threads read).</summary>
    private static bool GruFused => typeof(TCell) == typeof(GruCell);

    /// <summary>Whether the steps are <see cref="RnnSteps"/>' (the RNN's, tanh or ReLU: forward at any rows, backward from
    /// <see cref="TransposeRows"/> rows; the weights packed once per pass, one copy both threads read).</summary>
    private static bool RnnFused => typeof(TCell) == typeof(RnnCell<TanhPhi>) || typeof(TCell) == typeof(RnnCell<ReluPhi>);

    /// <summary>Whether the forward steps take W_ih xₜ per panel inside each step (x's zeros skipped) from weights packed
    /// once per pass, one copy both threads read: the GRU's and the RNN's.</summary>
    private static bool PackedSteps => GruFused || RnnFused;

    internal static RecurrentLayout Layout(int inputs, int hidden, int rows, int time) =>
        new(TCell.Gates, TCell.HasCell, TCell.Extra, TCell.Separate, inputs, hidden, rows, time);

    internal static ParameterTensor[] Parameters(int inputs, int hidden, InitialState initial)
    {
        int gh = TCell.Gates * hidden;
        // torch.nn.RNN/LSTM/GRU draw every tensor from U(±1/√hidden): the fan-in the initialiser uses is hidden.
        var list = new List<ParameterTensor>(6)
        {
            ParameterTensor.Matrix("weight_ih_l0", gh, inputs) with { FanIn = hidden },
            ParameterTensor.Matrix("weight_hh_l0", gh, hidden) with { FanIn = hidden },
            ParameterTensor.Vector("bias_ih_l0", gh) with { FanIn = hidden },
            ParameterTensor.Vector("bias_hh_l0", gh) with { FanIn = hidden },
        };
        if (initial == InitialState.Learned)
        {
            list.Add(ParameterTensor.Vector("h0", hidden, ParameterInit.Zeros));
            if (TCell.HasCell) list.Add(ParameterTensor.Vector("c0", hidden, ParameterInit.Zeros));
        }
        return [.. list];
    }

    internal static void Forward<T>(int inputs, int hidden, bool sequences, InitialState initial, scoped in ForwardPass<T> p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = p.Rows, time = p.Time, gh = TCell.Gates * hidden;
        var L = Layout(inputs, hidden, rows, time);
        var s = p.Scratch;
        int step = L.Step;
        var wih = Wih(p.Theta, inputs, hidden);
        var whh = Whh(p.Theta, inputs, hidden);
        var bih = Bih(p.Theta, inputs, hidden);
        var bhh = Bhh(p.Theta, inputs, hidden);
        var lengths = p.Lengths;

        var xt = s.Slice(L.XT, time * rows * inputs);
        var gates = s.Slice(L.G, time * rows * gh);
        // The summed biases b_ih + b_hh, which the LSTM's and the RNN's cells add (the GRU's cell adds the two apart: b_hn
        // sits inside r ⊙ (W_hn hₜ₋₁ + b_hn)).
        var seed = BiasRow(s, L, gh);
        bih.CopyTo(seed);
        if (!TCell.Separate) TensorPrimitives.Add(seed, bhh, seed);
        // a batch's passes pack the weights each pass; a predictor's few rows (its θ its own snapshot) keep the packing
        bool batch = rows >= TransposeRows;
        // The LSTM runs its fused steps for any number of rows, so a sequence gets the same bits alone as in a batch;
        // below TransposeRows on one thread, each row against the packed weights (LstmSteps.RowTimesPacked). A
        // predictor's θ is its own snapshot (WeightsKept): the packing is made once and kept.
        bool fused = Fused;
        // The GRU's and the RNN's steps (GruSteps, RnnSteps: any rows, as the LSTM's) take W_ih xₜ per panel inside each
        // step, skipping x's zeros: x only goes time-major first.
        if (!fused) ToTimeMajor(p.X, xt, rows, time, inputs, 0, rows);

        InitialStates(p.Theta, inputs, hidden, initial, s, L);
        var stepWeights = p.LayerScratch[..StepWeights(inputs, hidden)];
        if (fused)
        {
            // The LSTM's fused steps take W_ih xₜ inside each step's product ([xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ, depth I + H) and
            // add the summed biases in the cell: no [time·rows × 4H] pass to seed and accumulate before the steps. On two
            // threads each puts its own rows of x time-major and packs its own copy of the weights; on one, the same
            // copies and steps in turn.
            bool zeroStart = initial == InitialState.Zero;   // h₀ = 0: the first step's product skips W_hh·h₀
            bool keep = !batch && !p.WeightsKept.IsEmpty;
            if (keep || !RecurrentSplit<T, TCell>.TryForwardFused(s, L, p.X, wih, whh, stepWeights, seed, lengths, zeroStart, p.Threads))
            {
                var packed = stepWeights[..LstmSteps.PackedLength(inputs, hidden)];
                ToTimeMajor(p.X, xt, rows, time, inputs, 0, rows);
                if (!keep || !p.WeightsKept[0])
                    LstmSteps.PackForward(wih, whh, packed, inputs, hidden);
                LstmSteps.Forward(s, L, packed, seed, lengths, 0, rows, zeroStart);
            }
            // kept from now on only when packed by the one-row path; a batch's passes pack over the same scratch
            if (!p.WeightsKept.IsEmpty) p.WeightsKept[0] = keep;
        }
        else
        {
            // packed once and kept for a predictor's one-row passes (its θ is its own snapshot), as the LSTM's
            bool keep = !batch && !p.WeightsKept.IsEmpty;
            if (!keep || !p.WeightsKept[0]) LstmSteps.PackForward(wih, whh, stepWeights, inputs, hidden, TCell.Gates);
            if (!p.WeightsKept.IsEmpty) p.WeightsKept[0] = keep;
            // the GRU's steps add both biases in the cell, [b_ih | b_hh] as θ holds them; the RNN's their sum (the seed)
            var stepBias = TCell.Separate ? p.Theta.Slice(gh * (inputs + hidden), 2 * gh) : seed;
            bool zeroStart = initial == InitialState.Zero;   // h₀ = 0: the first step's W_hh·h₀ skipped
            // Not split (one thread, too few rows, or the GEMM pool busy): the one-thread steps, whatever p.Threads says,
            // so the bits never depend on whether the pool was free.
            if (!RecurrentSplit<T, TCell>.TryForward(s, L, stepWeights, stepBias, lengths, p.Threads, zeroStart))
                ForwardSteps(s, L, stepWeights, stepBias, lengths, 0, rows, zeroStart);
        }

        if (sequences)
        {
            for (int t = 0; t < time; t++)
            {
                var h = s.Slice(L.H + (t + 1) * step, step);
                for (int r = 0; r < rows; r++)
                {
                    var y = p.Y.Slice((r * time + t) * hidden, hidden);
                    if (!lengths.IsEmpty && t >= lengths[r]) y.Clear();
                    else h.Slice(r * hidden, hidden).CopyTo(y);
                }
            }
        }
        else
        {
            s.Slice(L.H + time * step, step).CopyTo(p.Y);   // padded steps held the state: h_T is h at each row's length
        }
    }

    internal static void Backward<T>(int inputs, int hidden, bool sequences, InitialState initial, scoped in BackwardPass<T> p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = p.Rows, time = p.Time, gh = TCell.Gates * hidden;
        var L = Layout(inputs, hidden, rows, time);
        var s = p.Scratch;
        int step = L.Step;
        var wih = Wih(p.Theta, inputs, hidden);
        var whh = Whh(p.Theta, inputs, hidden);
        var lengths = p.Lengths;
        var gates = s.Slice(L.G, time * rows * gh);
        var dgh = TCell.Separate ? s.Slice(L.DGh, time * rows * gh) : gates;
        var dNext = s.Slice(L.DB, step);
        var dc = TCell.HasCell ? s.Slice(L.DC, step) : default;
        // The fused LSTM steps read W_hh packed, a copy per thread, each packed by the thread that reads it.
        var packed = Fused && rows >= TransposeRows ? p.LayerScratch[..StepWeights(inputs, hidden)] : default;
        if (PackedSteps && rows >= TransposeRows)
        {
            // the GRU's and the RNN's steps read W_hh packed once, by this thread, one copy for both threads
            var own = p.LayerScratch[..StepWeights(inputs, hidden)];
            LstmSteps.PackBackward(whh, own, hidden, TCell.Gates);
            whh = own;
        }
        if (!RecurrentSplit<T, TCell>.TryBackward(s, L, whh, p.DY, sequences, lengths, p.Threads, packed))
        {
            // as the forward pass: the one-thread steps
            var stepWeights = whh;
            if (!packed.IsEmpty)
            {
                stepWeights = packed[..(packed.Length / 2)];
                LstmSteps.PackBackward(whh, packed[..(packed.Length / 2)], hidden);
            }
            BackwardSteps(s, L, stepWeights, p.DY, sequences, lengths, 0, rows, 1);
        }
        for (int t = 0; t < time; t++) s[L.Norms + t] = T.Sqrt(s[L.Norms + t] + s[L.Norms + time + t]);   // the halves' ‖·‖²

        // ∂C/∂h₀ (∂C/∂c₀): kept for the caller, and summed into θ when learned.
        var d0 = s.Slice(L.D0, (TCell.HasCell ? 2 : 1) * step);
        dNext.CopyTo(d0[..step]);
        if (TCell.HasCell) dc.CopyTo(d0.Slice(step, step));

        if (!p.DTheta.IsEmpty)
        {
            int o = 0;
            var dwih = p.DTheta.Slice(o, gh * inputs); o += gh * inputs;
            var dwhh = p.DTheta.Slice(o, gh * hidden); o += gh * hidden;
            var dbih = p.DTheta.Slice(o, gh); o += gh;
            var dbhh = p.DTheta.Slice(o, gh); o += gh;
            var xt = s.Slice(L.XT, time * rows * inputs);
            // ∂C/∂W_hh = Σ δʰᵀhₜ₋₁ straight from the states (h₀…h_{T−1} are the first T blocks of H, step-major as δ),
            // ∂C/∂W_ih = Σ δᵀxₜ with x's zeros skipped when it is mostly zeros, ∂C/∂b_ih = Σ δ and ∂C/∂b_hh = Σ δʰ (one
            // pass, and one sum, where δʰ = δ: the LSTM's and the RNN's biases only ever appear summed; the GRU's δʰ, its
            // hidden side, is its own); per half of the steps, on two threads each one half, then the two partial sums added.
            var both = p.LayerScratch.Slice(StepWeights(inputs, hidden), 2 * RecurrentGradients<T>.HalfLength(gh, inputs, hidden, TCell.Separate));
            RecurrentGradients<T>.Run(gates, xt, s.Slice(L.H, time * step), both, dwih, dwhh, dbih, dbhh, inputs, hidden,
                time / 2 * rows, p.Threads, zeroRows: initial == InitialState.Zero ? rows : 0,   // BP4 and BP3 (h₀ = 0 skipped)
                deltaH: TCell.Separate ? dgh : default);
            if (initial == InitialState.Learned)
            {
                ColumnSums(d0[..step], p.DTheta.Slice(o, hidden), rows, hidden); o += hidden;
                if (TCell.HasCell) ColumnSums(d0.Slice(step, step), p.DTheta.Slice(o, hidden), rows, hidden);
            }
        }

        if (!p.DX.IsEmpty)
        {
            var xt = s.Slice(L.XT, time * rows * inputs);   // x is no longer needed: ∂C/∂x time-major in its place
            Equations.InputGradient<T>(wih, gates, xt, inputs, gh, p.Threads);
            FromTimeMajor(xt, p.DX, rows, time, inputs);
        }
    }

    /// <summary>The forward steps for rows [r0, r0 + n) of the GRU (<see cref="GruSteps"/>) or the RNN (<see cref="RnnSteps"/>):
    /// <paramref name="packed"/> is [W_ih | W_hh] packed (<see cref="LstmSteps.PackForward"/>), <paramref name="bias"/>
    /// [b_ih | b_hh] (the GRU) or b_ih + b_hh (the RNN). Rows never mix before the weight gradients, so two ranges run on
    /// two threads. (The LSTM's are <see cref="LstmSteps"/>' through its own split, which packs a copy per thread.)</summary>
    internal static void ForwardSteps<T>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packed, ReadOnlySpan<T> bias,
        ReadOnlySpan<int> lengths, int r0, int n, bool zeroStart) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (GruFused) GruSteps.Forward(s, L, packed, bias, lengths, r0, n, zeroStart);
        else if (typeof(TCell) == typeof(RnnCell<TanhPhi>)) RnnSteps.Forward<T, TanhPhi>(s, L, packed, bias, lengths, r0, n, zeroStart);
        else if (typeof(TCell) == typeof(RnnCell<ReluPhi>)) RnnSteps.Forward<T, ReluPhi>(s, L, packed, bias, lengths, r0, n, zeroStart);
        else throw new System.Diagnostics.UnreachableException("the LSTM's forward steps are LstmSteps' through its own split");
    }

    /// <summary>The backward steps for rows [r0, r0 + n), from the last step to the first: ∂C/∂hₜ, the cell's
    /// vector–Jacobian product, and ∂C/∂hₜ₋₁ = δ_hₜ·W_hh (+ the cell's direct term). Leaves ∂C/∂h₀ (∂C/∂c₀) of those rows
    /// in the DB (DC) buffers and ‖∂C/∂hₜ‖² of those rows at Norms + t (Norms + time + t for a range not starting at 0).
    /// From <see cref="TransposeRows"/> rows <paramref name="whh"/> is W_hh packed and the steps are <see cref="LstmSteps"/>', <see cref="GruSteps"/>' or <see cref="RnnSteps"/>'.</summary>
    internal static void BackwardSteps<T>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, int r0, int n, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Fused && L.Rows >= TransposeRows)
        {
            LstmSteps.Backward(s, L, whh, dy, sequences, lengths, r0, n);
            return;
        }
        if (GruFused && L.Rows >= TransposeRows)
        {
            GruSteps.Backward(s, L, whh, dy, sequences, lengths, r0, n);   // whh: packed by LstmSteps.PackBackward
            return;
        }
        if (RnnFused && L.Rows >= TransposeRows)
        {
            // whh: packed by LstmSteps.PackBackward, one gate block
            if (typeof(TCell) == typeof(RnnCell<ReluPhi>)) RnnSteps.Backward<T, ReluPhi>(s, L, whh, dy, sequences, lengths, r0, n);
            else RnnSteps.Backward<T, TanhPhi>(s, L, whh, dy, sequences, lengths, r0, n);
            return;
        }
        int rows = L.Rows, hidden = L.Hidden, gh = L.GH, step = L.Step, time = L.Time, block = n * hidden;
        int temp = Math.Max(TCell.Gates, 4) * hidden;
        var dh = s.Slice(L.DA + r0 * hidden, block);
        var dNext = s.Slice(L.DB + r0 * hidden, block);
        var dc = TCell.HasCell ? s.Slice(L.DC + r0 * hidden, block) : default;
        var savedH = s.Slice(L.D0 + r0 * hidden, block);   // ∂C/∂h₀'s room, free until the end
        var savedC = TCell.HasCell ? s.Slice(L.D0 + step + r0 * hidden, block) : default;
        int norms = L.Norms + (r0 == 0 ? 0 : time);
        dNext.Clear();
        dc.Clear();
        for (int t = time - 1; t >= 0; t--)
        {
            IncomingGradient(dh, dNext, dy, sequences, lengths, r0, n, hidden, time, t);
            s[norms + t] = TensorPrimitives.SumOfSquares<T>(dh);   // the gradient-flow picture, ‖∂C/∂hₜ‖²

            var cell = new CellStep<T>
            {
                Gates = s.Slice(L.G + (t * rows + r0) * gh, n * gh),
                DGh = TCell.Separate ? s.Slice(L.DGh + (t * rows + r0) * gh, n * gh) : s.Slice(L.G + (t * rows + r0) * gh, n * gh),
                HPrev = s.Slice(L.H + t * step + r0 * hidden, block),
                CPrev = TCell.HasCell ? s.Slice(L.C + t * step + r0 * hidden, block) : default,
                Extra = TCell.Extra > 0 ? s.Slice(L.Ex + t * TCell.Extra * step + r0 * TCell.Extra * hidden, n * TCell.Extra * hidden) : default,
                DH = dh,
                DC = dc,
                DPrev = dNext,
                Temp = s.Slice(L.Tmp + r0 * temp, n * temp),
                Rows = n,
                Hidden = hidden,
            };
            // A padded step passes ∂C/∂h (and ∂C/∂c) through unchanged and has δ = 0: keep the incoming values.
            if (!lengths.IsEmpty)
            {
                dh.CopyTo(savedH);
                if (TCell.HasCell) dc.CopyTo(savedC);
            }
            TCell.StepBack(in cell);
            // ∂C/∂hₜ₋₁ = the cell's direct term + δ_hₜ·W_hh (BP2's product in time).
            Gemm.Multiply<T>(cell.DGh, false, whh, false, dNext, n, hidden, gh, accumulate: TCell.Separate, threads);
            if (!lengths.IsEmpty)
                for (int r = 0; r < n; r++)
                    if (t >= lengths[r0 + r])
                    {
                        cell.Gates.Slice(r * gh, gh).Clear();
                        if (TCell.Separate) cell.DGh.Slice(r * gh, gh).Clear();
                        savedH.Slice(r * hidden, hidden).CopyTo(dNext.Slice(r * hidden, hidden));
                        if (TCell.HasCell) savedC.Slice(r * hidden, hidden).CopyTo(dc.Slice(r * hidden, hidden));
                    }
        }
    }

    /// <summary>∂C/∂hₜ of rows [r0, r0 + n) into <paramref name="dh"/>: from the step after (<paramref name="dNext"/>,
    /// through W_hh and the cell) plus the loss's own, if it sees hₜ.</summary>
    internal static void IncomingGradient<T>(Span<T> dh, ReadOnlySpan<T> dNext, ReadOnlySpan<T> dy, bool sequences, ReadOnlySpan<int> lengths,
        int r0, int n, int hidden, int time, int t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (sequences)
        {
            for (int r = 0; r < n; r++)
            {
                var d = dh.Slice(r * hidden, hidden);
                var from = dNext.Slice(r * hidden, hidden);
                if (!lengths.IsEmpty && t >= lengths[r0 + r]) from.CopyTo(d);   // a padded step's output is the constant 0
                else TensorPrimitives.Add(from, dy.Slice(((r0 + r) * time + t) * hidden, hidden), d);
            }
        }
        else if (t == time - 1) TensorPrimitives.Add(dNext, dy.Slice(r0 * hidden, n * hidden), dh);
        else dNext.CopyTo(dh);
    }

    /// <summary>weight_ih [GH × I], weight_hh [GH × H], bias_ih, bias_hh [GH] within the layer's θ slice.</summary>
    private static ReadOnlySpan<T> Wih<T>(ReadOnlySpan<T> theta, int inputs, int hidden) => theta[..(TCell.Gates * hidden * inputs)];

    private static ReadOnlySpan<T> Whh<T>(ReadOnlySpan<T> theta, int inputs, int hidden) =>
        theta.Slice(TCell.Gates * hidden * inputs, TCell.Gates * hidden * hidden);

    private static ReadOnlySpan<T> Bih<T>(ReadOnlySpan<T> theta, int inputs, int hidden) =>
        theta.Slice(TCell.Gates * hidden * (inputs + hidden), TCell.Gates * hidden);

    private static ReadOnlySpan<T> Bhh<T>(ReadOnlySpan<T> theta, int inputs, int hidden) =>
        theta.Slice(TCell.Gates * hidden * (inputs + hidden + 1), TCell.Gates * hidden);

    /// <summary>h₀ (c₀) into the first state slot: zero, the learned vector broadcast, or left as carried.</summary>
    private static void InitialStates<T>(ReadOnlySpan<T> theta, int inputs, int hidden, InitialState initial, Span<T> s, in RecurrentLayout L)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int step = L.Step;
        var h0 = s.Slice(L.H, step);
        var c0 = TCell.HasCell ? s.Slice(L.C, step) : default;
        switch (initial)
        {
            case InitialState.Zero:
                h0.Clear();
                c0.Clear();
                break;
            case InitialState.Learned:
                int o = TCell.Gates * hidden * (inputs + hidden + 2);
                for (int r = 0; r < L.Rows; r++)
                {
                    theta.Slice(o, hidden).CopyTo(h0.Slice(r * hidden, hidden));
                    if (TCell.HasCell) theta.Slice(o + hidden, hidden).CopyTo(c0.Slice(r * hidden, hidden));
                }
                break;
        }
    }

    private static void ColumnSums<T>(ReadOnlySpan<T> m, Span<T> sums, int rows, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        m[..width].CopyTo(sums);
        for (int r = 1; r < rows; r++) TensorPrimitives.Add(sums, m.Slice(r * width, width), sums);
    }

    /// <summary>The first row of the per-step temporary, [GH]: the summed biases b_ih + b_hh, which the LSTM's and the RNN's
    /// forward cells add (the backward steps use the temporary afterwards).</summary>
    private static Span<T> BiasRow<T>(Span<T> s, in RecurrentLayout L, int gh) => s.Slice(L.Tmp, gh);

    /// <summary>[rows × time × n] → [time × rows × n], rows [r0, r0 + count).</summary>
    internal static void ToTimeMajor<T>(ReadOnlySpan<T> x, Span<T> xt, int rows, int time, int n, int r0, int count)
    {
        for (int r = r0; r < r0 + count; r++)
            for (int t = 0; t < time; t++)
                x.Slice((r * time + t) * n, n).CopyTo(xt.Slice((t * rows + r) * n, n));
    }

    /// <summary>[time × rows × n] → [rows × time × n].</summary>
    private static void FromTimeMajor<T>(ReadOnlySpan<T> xt, Span<T> x, int rows, int time, int n)
    {
        for (int t = 0; t < time; t++)
            for (int r = 0; r < rows; r++)
                xt.Slice((t * rows + r) * n, n).CopyTo(x.Slice((r * time + t) * n, n));
    }
}
