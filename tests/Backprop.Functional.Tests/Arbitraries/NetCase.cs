using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Tests.Arbitraries;

/// <summary>A random network, batch and data, small enough to read when a property fails.</summary>
public sealed record NetCase(int[] Widths, ActivationKind[] Hidden, ActivationKind Output, LossKind Loss, int Batch, int Seed)
{
    public static readonly ActivationKind[] ElementwiseKinds =
    [
        ActivationKind.Identity, ActivationKind.Sigmoid, ActivationKind.Tanh, ActivationKind.ReLU,
        ActivationKind.LeakyReLU, ActivationKind.Softplus, ActivationKind.GELU,
    ];

    /// <summary>Every (output activation, loss) pair that fits: quadratic with any output, binary
    /// cross-entropy with sigmoid or softmax, categorical cross-entropy with softmax.</summary>
    public static readonly (ActivationKind Output, LossKind Loss)[] OutputLossPairs =
    [
        .. ElementwiseKinds.Select(k => (k, LossKind.Quadratic)),
        (ActivationKind.Softmax, LossKind.Quadratic),
        (ActivationKind.Sigmoid, LossKind.CrossEntropy),
        (ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
    ];

    public NetworkSpec Spec
    {
        get
        {
            var layers = new Layer[Widths.Length - 1];
            for (int l = 0; l < layers.Length; l++)
                layers[l] = new Dense(Widths[l], Widths[l + 1], l == layers.Length - 1 ? Output : Hidden[l]);
            return new NetworkSpec(layers, Loss);
        }
    }

    public int Inputs => Widths[0];
    public int Outputs => Widths[^1];

    /// <summary>Inputs ~ N(0, 1), [Batch × Inputs].</summary>
    public double[] X(int salt = 0)
    {
        var rng = new SeededRandom(Seed * 7919L + salt);
        var x = new double[Batch * Inputs];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextGaussian();
        return x;
    }

    /// <summary>Targets that suit the loss: one-hot rows (even seeds) or unnormalised non-negative rows (odd seeds)
    /// for categorical cross-entropy, values in [0, 1] for
    /// binary cross-entropy, N(0, 1) for the quadratic cost.</summary>
    public double[] Y(int salt = 0)
    {
        var rng = new SeededRandom(Seed * 104729L + salt);
        var y = new double[Batch * Outputs];
        for (int r = 0; r < Batch; r++)
        {
            var row = y.AsSpan(r * Outputs, Outputs);
            switch (Loss)
            {
                case LossKind.SoftmaxCrossEntropy when Seed % 2 == 0: row[rng.Next(Outputs)] = 1; break;
                case LossKind.SoftmaxCrossEntropy: for (int j = 0; j < Outputs; j++) row[j] = 2 * rng.NextDouble(); break;   // unnormalised
                case LossKind.CrossEntropy: for (int j = 0; j < Outputs; j++) row[j] = rng.NextDouble(); break;
                default: for (int j = 0; j < Outputs; j++) row[j] = rng.NextGaussian(); break;
            }
        }
        return y;
    }

    public Network<double> Network(Initialization init = Initialization.Xavier) => Network<double>.Create(Spec, Seed, init);

    public override string ToString() =>
        $"{Spec}, batch {Batch}, seed {Seed}";
}

/// <summary>Arbitraries for <see cref="NetCase"/>: depth 1–4, widths 1–16, every hidden activation, every fitting
/// (output, loss) pair, batch 1–4. Shrinks toward fewer layers, narrower layers, a batch of one and identity
/// hidden layers, so a failure reads like "2-1(Identity) Quadratic, batch 1".</summary>
public static class NetArbitraries
{
    public static Gen<Arbitraries.NetCase> Gen(int maxDepth = 4, int maxWidth = 16, int maxBatch = 4) =>
        from depth in FsCheck.Fluent.Gen.Choose(1, maxDepth)
        from widths in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Choose(1, maxWidth), depth + 1)
        from hidden in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Elements(Arbitraries.NetCase.ElementwiseKinds), depth)
        from pair in FsCheck.Fluent.Gen.Elements(Arbitraries.NetCase.OutputLossPairs)
        from batch in FsCheck.Fluent.Gen.Choose(1, maxBatch)
        from seed in FsCheck.Fluent.Gen.Choose(0, 1_000_000)
        select new Arbitraries.NetCase(widths, hidden, pair.Output, pair.Loss, batch, seed);

    public static IEnumerable<Arbitraries.NetCase> Shrink(Arbitraries.NetCase c)
    {
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
            if (c.Hidden[i] != ActivationKind.Identity && i < c.Hidden.Length)
            {
                var h = (ActivationKind[])c.Hidden.Clone();
                h[i] = ActivationKind.Identity;
                yield return c with { Hidden = h };
            }
    }

    public static Arbitrary<Arbitraries.NetCase> NetCase() => Arb.From(Gen(), Shrink);
}
