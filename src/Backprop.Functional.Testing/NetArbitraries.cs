using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Testing;

/// <summary>FsCheck arbitraries for networks, inputs and targets. <see cref="NetCase()"/>: random dense networks of depth
/// 1–4, widths 1–16, every hidden activation, every fitting (output, loss) pair, batch 1–4; name this class in
/// <c>[Property(Arbitrary = [typeof(NetArbitraries)])]</c> to have <see cref="Testing.NetCase"/> parameters filled.
/// <see cref="For"/>: your own network with random batches and seeds. Both shrink toward fewer layers, narrower layers,
/// a batch of one and identity hidden layers, so a failure reads like <c>1-1(Softmax) SoftmaxCrossEntropy, batch 1, seed 7</c>.</summary>
public static class NetArbitraries
{
    /// <summary>Random dense networks within the given bounds.</summary>
    /// <param name="maxDepth">Most layers (at least 1).</param>
    /// <param name="maxWidth">Widest layer (at least 1).</param>
    /// <param name="maxBatch">Most rows in the batch (at least 1).</param>
    /// <returns>The generator.</returns>
    public static Gen<NetCase> Gen(int maxDepth = 4, int maxWidth = 16, int maxBatch = 4) =>
        from depth in FsCheck.Fluent.Gen.Choose(1, maxDepth)
        from widths in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Choose(1, maxWidth), depth + 1)
        from hidden in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Elements(Testing.NetCase.ElementwiseKinds), depth)
        from pair in FsCheck.Fluent.Gen.Elements(Testing.NetCase.OutputLossPairs)
        from batch in FsCheck.Fluent.Gen.Choose(1, maxBatch)
        from seed in FsCheck.Fluent.Gen.Choose(0, 1_000_000)
        select new NetCase(widths, hidden, pair.Output, pair.Loss, batch, seed);

    /// <summary>Smaller cases than <paramref name="c"/>: the last hidden layer dropped, a batch of one, a layer half as
    /// wide, a hidden activation made the identity.</summary>
    /// <param name="c">A failing case.</param>
    /// <returns>Candidates, simplest change first.</returns>
    public static IEnumerable<NetCase> Shrink(NetCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.Widths.Length > 2)   // drop the last hidden layer
            yield return c with { Widths = [.. c.Widths[..^2], c.Widths[^1]], Hidden = c.Hidden[..^1] };
        if (c.Batch > 1) yield return c with { Batch = 1 };
        for (int i = 0; i < c.Widths.Length; i++)
            if (c.Widths[i] > 1)
            {
                var w = (int[])c.Widths.Clone();
                w[i] = c.Widths[i] / 2;
                yield return c with { Widths = w };
            }
        for (int i = 0; i < c.Hidden.Length - 1; i++)
            if (c.Hidden[i] != ActivationKind.Identity)
            {
                var h = (ActivationKind[])c.Hidden.Clone();
                h[i] = ActivationKind.Identity;
                yield return c with { Hidden = h };
            }
    }

    /// <summary>Random dense networks (<see cref="Gen"/> with its defaults), shrinking with <see cref="Shrink"/>.</summary>
    /// <returns>The arbitrary FsCheck finds by its type, <see cref="Arbitrary{T}"/> of <see cref="Testing.NetCase"/>.</returns>
    public static Arbitrary<NetCase> NetCase() => Arb.From(Gen(), Shrink);

    /// <summary>Your network <paramref name="spec"/> with θ, inputs and targets from random seeds and a batch of 1 to
    /// <paramref name="maxBatch"/> rows; shrinks to a batch of one.</summary>
    /// <param name="spec">The network, e.g. a generated type's <c>Spec</c> or one read from a layer list. It must read
    /// features [batch × n] (sequence networks are not covered yet).</param>
    /// <param name="maxBatch">Most rows in the batch.</param>
    /// <returns>The arbitrary.</returns>
    /// <exception cref="ArgumentException">The network reads sequences.</exception>
    public static Arbitrary<SpecCase> For(NetworkSpec spec, int maxBatch = 4)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        if (spec.Layers[0].Input.IsSequence)
            throw new ArgumentException($"{spec} reads sequences {spec.Layers[0].Input}; the kit's cases are features [batch × n]", nameof(spec));
        var gen = from batch in FsCheck.Fluent.Gen.Choose(1, maxBatch)
                  from seed in FsCheck.Fluent.Gen.Choose(0, 1_000_000)
                  select new SpecCase(spec, batch, seed);
        return Arb.From(gen, c => c.Batch > 1 ? [c with { Batch = 1 }] : []);
    }
}
