namespace Backprop.Functional.Testing;

/// <summary>One generated test case: a network, its θ, a batch of inputs and targets, all from a seed, in double. The
/// properties of <see cref="NetworkProperties"/> take any of them: <see cref="NetCase"/> (a random dense network),
/// <see cref="SpecCase"/> (your own network), or a type of your own (a network with parameters set by hand).</summary>
public interface INetCase
{
    /// <summary>The network's description.</summary>
    NetworkSpec Spec { get; }

    /// <summary>Rows in the batch.</summary>
    int Batch { get; }

    /// <summary>Inputs, [<see cref="Batch"/> × inputs].</summary>
    /// <param name="salt">Another draw from the same case (0: the case's own).</param>
    /// <returns>A new array.</returns>
    double[] X(int salt = 0);

    /// <summary>Targets that suit the loss, [<see cref="Batch"/> × outputs].</summary>
    /// <param name="salt">Another draw from the same case (0: the case's own).</param>
    /// <returns>A new array.</returns>
    double[] Y(int salt = 0);

    /// <summary>A new network of <see cref="Spec"/> with this case's θ; the caller disposes it.</summary>
    /// <returns>The network.</returns>
    Network<double> Network();
}

/// <summary>A random dense network, batch and data, small enough to read when a property fails: it prints as
/// <c>2-1(Identity) Quadratic, batch 1, seed 7</c>, and the same text rebuilds it
/// (<c>new NetCase([2, 1], [], ActivationKind.Identity, LossKind.Quadratic, 1, 7)</c>).</summary>
/// <param name="Widths">Layer widths, input first: depth + 1 numbers.</param>
/// <param name="Hidden">Activation of each hidden layer (one per layer; the last entry is not used).</param>
/// <param name="Output">Activation of the output layer.</param>
/// <param name="Loss">The cost.</param>
/// <param name="Batch">Rows in the batch.</param>
/// <param name="Seed">Seed of θ (Xavier), the inputs and the targets.</param>
public sealed record NetCase(int[] Widths, ActivationKind[] Hidden, ActivationKind Output, LossKind Loss, int Batch, int Seed) : INetCase
{
    /// <summary>The element-wise activations, every one a hidden layer may have.</summary>
    public static readonly ActivationKind[] ElementwiseKinds =
    [
        ActivationKind.Identity, ActivationKind.Sigmoid, ActivationKind.Tanh, ActivationKind.ReLU,
        ActivationKind.LeakyReLU, ActivationKind.Softplus, ActivationKind.GELU,
    ];

    /// <summary>Every (output activation, loss) pair that fits: quadratic with any output, binary
    /// cross-entropy with sigmoid, categorical cross-entropy with softmax.</summary>
    public static readonly (ActivationKind Output, LossKind Loss)[] OutputLossPairs =
    [
        .. ElementwiseKinds.Select(k => (k, LossKind.Quadratic)),
        (ActivationKind.Softmax, LossKind.Quadratic),
        (ActivationKind.Sigmoid, LossKind.CrossEntropy),
        (ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
    ];

    /// <summary>The network's description: <see cref="Widths"/>.Length − 1 dense layers.</summary>
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

    /// <summary>Width of the input.</summary>
    public int Inputs => Widths[0];

    /// <summary>Width of the output.</summary>
    public int Outputs => Widths[^1];

    /// <summary>Inputs ~ N(0, 1), [Batch × Inputs].</summary>
    /// <param name="salt">Another draw from the same case (0: the case's own).</param>
    /// <returns>A new array.</returns>
    public double[] X(int salt = 0) => CaseData.Inputs(Inputs, Batch, Seed, salt);

    /// <summary>Targets that suit the loss (see <see cref="CaseData.Targets"/>), [Batch × Outputs].</summary>
    /// <param name="salt">Another draw from the same case (0: the case's own).</param>
    /// <returns>A new array.</returns>
    public double[] Y(int salt = 0) => CaseData.Targets(Loss, Outputs, Batch, Seed, salt);

    /// <summary>The network with θ drawn from <see cref="Seed"/>.</summary>
    /// <param name="init">How θ is drawn.</param>
    /// <returns>A new network; the caller disposes it.</returns>
    public Network<double> Network(Initialization init) => Network<double>.Create(Spec, Seed, init);

    /// <summary>The network with Xavier-initialised θ drawn from <see cref="Seed"/>.</summary>
    /// <returns>A new network; the caller disposes it.</returns>
    public Network<double> Network() => Network(Initialization.Xavier);

    /// <summary>E.g. <c>1-1(Softmax) SoftmaxCrossEntropy, batch 1, seed 7</c>.</summary>
    /// <returns>The readable form.</returns>
    public override string ToString() => $"{Spec}, batch {Batch}, seed {Seed}";
}

/// <summary>Your own network, fixed, with a random batch size and seed: what <see cref="NetArbitraries.For"/> generates.
/// Prints as the spec, e.g. <c>4-8(Tanh)-3(Softmax) SoftmaxCrossEntropy, batch 2, seed 11</c>.</summary>
/// <param name="Spec">The network.</param>
/// <param name="Batch">Rows in the batch.</param>
/// <param name="Seed">Seed of θ (Xavier), the inputs and the targets.</param>
public sealed record SpecCase(NetworkSpec Spec, int Batch, int Seed) : INetCase
{
    /// <summary>Inputs ~ N(0, 1), [Batch × inputs].</summary>
    /// <param name="salt">Another draw from the same case (0: the case's own).</param>
    /// <returns>A new array.</returns>
    public double[] X(int salt = 0) => CaseData.Inputs(Spec.Inputs, Batch, Seed, salt);

    /// <summary>Targets that suit the loss (see <see cref="CaseData.Targets"/>), [Batch × outputs].</summary>
    /// <param name="salt">Another draw from the same case (0: the case's own).</param>
    /// <returns>A new array.</returns>
    public double[] Y(int salt = 0) => CaseData.Targets(Spec.Loss, Spec.Outputs, Batch, Seed, salt);

    /// <summary>The network with Xavier-initialised θ drawn from <see cref="Seed"/>.</summary>
    /// <returns>A new network; the caller disposes it.</returns>
    public Network<double> Network() => Network<double>.Create(Spec, Seed, Initialization.Xavier);

    /// <summary>E.g. <c>4-8(Tanh)-3(Softmax) SoftmaxCrossEntropy, batch 2, seed 11</c>.</summary>
    /// <returns>The readable form.</returns>
    public override string ToString() => $"{Spec}, batch {Batch}, seed {Seed}";
}

/// <summary>The inputs and targets of a case, drawn from its seed.</summary>
public static class CaseData
{
    /// <summary>Inputs ~ N(0, 1), [<paramref name="batch"/> × <paramref name="inputs"/>].</summary>
    /// <param name="inputs">Width of a row.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="seed">The case's seed.</param>
    /// <param name="salt">Another draw from the same seed.</param>
    /// <returns>A new array.</returns>
    public static double[] Inputs(int inputs, int batch, int seed, int salt = 0)
    {
        var rng = new SeededRandom(seed * 7919L + salt);
        var x = new double[batch * inputs];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextGaussian();
        return x;
    }

    /// <summary>Targets that suit the loss: one-hot rows (even seeds) or unnormalised non-negative rows (odd seeds)
    /// for categorical cross-entropy, values in [0, 1] for binary cross-entropy, N(0, 1) for the quadratic cost;
    /// [<paramref name="batch"/> × <paramref name="outputs"/>].</summary>
    /// <param name="loss">The cost.</param>
    /// <param name="outputs">Width of a row.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="seed">The case's seed.</param>
    /// <param name="salt">Another draw from the same seed.</param>
    /// <returns>A new array.</returns>
    public static double[] Targets(LossKind loss, int outputs, int batch, int seed, int salt = 0)
    {
        var rng = new SeededRandom(seed * 104729L + salt);
        var y = new double[batch * outputs];
        for (int r = 0; r < batch; r++)
        {
            var row = y.AsSpan(r * outputs, outputs);
            switch (loss)
            {
                case LossKind.SoftmaxCrossEntropy when seed % 2 == 0: row[rng.Next(outputs)] = 1; break;
                case LossKind.SoftmaxCrossEntropy: for (int j = 0; j < outputs; j++) row[j] = 2 * rng.NextDouble(); break;   // unnormalised
                case LossKind.CrossEntropy: for (int j = 0; j < outputs; j++) row[j] = rng.NextDouble(); break;
                default: for (int j = 0; j < outputs; j++) row[j] = rng.NextGaussian(); break;
            }
        }
        return y;
    }
}
