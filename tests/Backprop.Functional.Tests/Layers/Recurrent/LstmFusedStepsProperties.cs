using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The LSTM's fused steps (LstmSteps: W_hh packed once, product and cell per panel of MR rows) run from 8 rows
/// in a batch, which <see cref="RecurrentArbitraries"/>' batches of 1–3 never reach: the same finite-difference checks
/// over batches of 8–15 (whole and partial panels), hidden widths that leave a scalar tail after the vectors, and
/// lengths that differ within the batch.</summary>
public class LstmFusedStepsProperties
{
    private static Gen<RecurrentCase> Cases => RecurrentArbitraries.Batched("lstm", 8, 15, maxHidden: 10, maxTime: 5);

    /// <summary>Batches of 16–21 (odd ones split unevenly) on a two-thread workspace, which runs the fused steps as two
    /// batch halves when the GEMM pool is free, with stacked layers and input layers (random depth), so ∂C/∂x of a fused layer is checked too; the weight
    /// gradient is the sum of two partial products over the halves of the steps (RecurrentGradients).</summary>
    private static Gen<RecurrentCase> SplitCases => RecurrentArbitraries.Batched("lstm", 16, 21, maxHidden: 6, maxTime: 4, threads: 2);

    [Property(MaxTest = 25)]
    public Property Gradient_of_half_batches_equals_central_differences() =>
        Prop.ForAll(SplitCases.ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 40)]
    public Property Gradient_equals_central_differences() =>
        Prop.ForAll(Cases.ToArbitrary(), c => new RecurrentGradientProperties().Gradient_equals_central_differences(c));

    [Property(MaxTest = 30)]
    public Property Initial_state_gradient_equals_central_differences() =>
        Prop.ForAll(Cases.ToArbitrary(), c => new RecurrentGradientProperties().Initial_state_gradient_equals_central_differences(c));

    /// <summary>[W_ih | W_hh] packed panel by panel from the two tensors (no joined copy) is the packing of the joined
    /// [4H × (I + H)] matrix, value for value, partial last panels included.</summary>
    [Property(MaxTest = 60)]
    public Property Forward_packing_from_the_two_tensors_equals_packing_the_joined_matrix() =>
        Prop.ForAll(Gen.Choose(1, 40).ToArbitrary(), Gen.Choose(1, 20).ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), (inputs, hidden, seed) =>
        {
            int gh = 4 * hidden, wide = inputs + hidden;
            var rng = new Random(seed);
            var wih = new double[gh * inputs];
            var whh = new double[gh * hidden];
            for (int i = 0; i < wih.Length; i++) wih[i] = rng.NextDouble() - 0.5;
            for (int i = 0; i < whh.Length; i++) whh[i] = rng.NextDouble() - 0.5;
            var joined = new double[gh * wide];
            for (int g = 0; g < gh; g++)
            {
                wih.AsSpan(g * inputs, inputs).CopyTo(joined.AsSpan(g * wide));
                whh.AsSpan(g * hidden, hidden).CopyTo(joined.AsSpan(g * wide + inputs));
            }
            int length = LstmSteps.PackedLength(inputs, hidden);
            var expected = new double[length];
            var actual = new double[length];
            Array.Fill(actual, double.NaN);
            Array.Fill(expected, double.NaN);
            Backprop.Functional.Kernels.Gemm.Packing<double>.PackB(ref joined[0], true, gh, wide, 0, gh, 0, wide, ref expected[0]);
            LstmSteps.PackForward<double>(wih, whh, actual, inputs, hidden);
            return expected.AsSpan().SequenceEqual(actual);
        });

    /// <summary>With h₀ = 0 (the zero initial state) the fused forward steps stop the first step's product at depth I
    /// (W_hh·h₀ skipped): every value they write (gates, states, tanh cₜ) has the bits of the full product's, whole and
    /// partial panels, padded rows included.</summary>
    [Property(MaxTest = 60)]
    public Property Forward_with_the_zero_start_skipped_equals_the_full_product() =>
        Prop.ForAll(Gen.Choose(1, 12).ToArbitrary(), Gen.Choose(1, 9).ToArbitrary(), Gen.Choose(0, 10_000).ToArbitrary(), (inputs, hidden, seed) =>
        {
            int rows = 1 + seed % 19, time = 1 + seed / 19 % 4, gh = 4 * hidden;   // whole and partial panels
            var rng = new Random(seed);
            double Next() => rng.NextDouble() * 2 - 1;
            var L = Recurrence<LstmCell>.Layout(inputs, hidden, rows, time);
            var full = new double[L.End];
            for (int i = 0; i < time * rows * inputs; i++) full[L.XT + i] = Next();   // x time-major; h₀ = c₀ = 0
            var wih = new double[gh * inputs];
            var whh = new double[gh * hidden];
            var bias = new double[gh];
            for (int i = 0; i < wih.Length; i++) wih[i] = Next();
            for (int i = 0; i < whh.Length; i++) whh[i] = Next();
            for (int i = 0; i < bias.Length; i++) bias[i] = Next();
            int[] lengths = seed % 3 == 0 ? [.. Enumerable.Range(0, rows).Select(r => 1 + (r + seed) % time)] : [];
            var packed = new double[LstmSteps.PackedLength(inputs, hidden)];
            LstmSteps.PackForward<double>(wih, whh, packed, inputs, hidden);
            var skipped = (double[])full.Clone();
            LstmSteps.Forward<double>(full, L, packed, bias, lengths, 0, rows, zeroStart: false);
            LstmSteps.Forward<double>(skipped, L, packed, bias, lengths, 0, rows, zeroStart: true);
            return full.AsSpan().SequenceEqual(skipped);
        });

    /// <summary>∂C/∂W_hh from the states, ∂C/∂W_ih from x's non-zero values alone (SparseRows, when x is mostly zeros: an
    /// MNIST row, a one-hot character) or a GEMM (when not), and ∂C/∂b as sums of δ, have the bits of the one joined product
    /// δᵀ·[x | h | 1] (the blocked GEMM over each half of the rows, the halves added), over depths that span several of
    /// the GEMM's k blocks and of SparseRows' passes, with and without leading rows of h at 0 (h₀ of a zero initial state,
    /// skipped), in double and in float (the type seq-MNIST trains in).</summary>
    [Property(MaxTest = 80)]
    public Property Weight_gradient_has_the_bits_of_the_joined_product() =>
        Prop.ForAll(Gen.Choose(1, 40).ToArbitrary(), Gen.Choose(1, 40).ToArbitrary(), Gen.Choose(0, 100_000).ToArbitrary(),
            (inputs, hidden, seed) => JoinedBits<double>(inputs, hidden, seed) && JoinedBits<float>(inputs, hidden, seed + 1));

    private static bool JoinedBits<T>(int inputs, int hidden, int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int gh = 4 * hidden, plain = inputs + hidden + 1;
        int count = 1 + seed % 900, split = seed % 3 == 0 ? 0 : count / 2;
        double zeros = (seed / 7 % 4) switch { 0 => 0, 1 => 0.5, 2 => 0.8, _ => 1 - 1.0 / inputs };   // dense … one-hot-like
        int zeroRows = seed % 5 < 2 ? Math.Min(count, 1 + seed % 400) : 0;   // h₀ = 0 for a zero initial state
        var rng = new Random(seed);
        T Draw() => T.CreateChecked(rng.NextDouble() - 0.5);
        var delta = new T[count * gh];
        for (int i = 0; i < delta.Length; i++) delta[i] = Draw();
        var xh = new T[count * plain];
        var x = new T[count * inputs];
        var h = new T[count * hidden];
        for (int r = 0; r < count; r++)
            for (int c = 0; c < plain; c++)
            {
                T v = c == plain - 1 ? T.One
                    : c < inputs && rng.NextDouble() < zeros || c >= inputs && r < zeroRows ? T.Zero : Draw();
                xh[r * plain + c] = v;
                if (c < inputs) x[r * inputs + c] = v;
                else if (c < inputs + hidden) h[r * hidden + c - inputs] = v;
            }
        T[] Joined(int k0, int k1)
        {
            var sum = new T[gh * plain];
            if (k1 > k0)
                Backprop.Functional.Kernels.Gemm.Blocked<T>.Run(ref delta[k0 * gh], true, ref xh[k0 * plain], false, ref sum[0],
                    gh, plain, k1 - k0, false, 0, gh, 0, plain);
            return sum;
        }
        T[] first = split == 0 ? Joined(0, count) : Joined(0, split), second = split == 0 ? new T[gh * plain] : Joined(split, count);
        var expected = new T[gh * plain];
        for (int i = 0; i < expected.Length; i++) expected[i] = split == 0 ? first[i] : first[i] + second[i];
        var dwih = new T[gh * inputs];
        var dwhh = new T[gh * hidden];
        var dbih = new T[gh];
        var dbhh = new T[gh];
        var scratch = new T[2 * RecurrentGradients<T>.HalfLength(gh, inputs, hidden)];
        scratch.AsSpan().Fill(T.NaN);   // whatever the last layer left there: every sum starts from 0 on its own
        RecurrentGradients<T>.Run(delta, x, h, scratch, dwih, dwhh, dbih, dbhh, inputs, hidden, split, threads: 1, zeroRows);
        for (int g = 0; g < gh; g++)
        {
            if (!expected.AsSpan(g * plain, inputs).SequenceEqual(dwih.AsSpan(g * inputs, inputs))) return false;
            if (!expected.AsSpan(g * plain + inputs, hidden).SequenceEqual(dwhh.AsSpan(g * hidden, hidden))) return false;
            if (expected[g * plain + plain - 1] != dbih[g] || dbih[g] != dbhh[g]) return false;
        }
        return true;
    }
}
