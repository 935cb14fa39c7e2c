namespace Backprop.Functional;

/// <summary>How a network's weights and biases are drawn from a seed.</summary>
public enum Initialization
{
    /// <summary>PyTorch's <c>nn.Linear</c> default: W, b ~ U(−1/√nᵢₙ, 1/√nᵢₙ).</summary>
    PyTorch,
    /// <summary>Nielsen ch. 3: W ~ N(0, (1/√nᵢₙ)²), b ~ N(0, 1).</summary>
    Nielsen,
    /// <summary>Xavier/Glorot uniform: W ~ U(±√(6/(nᵢₙ + nₒᵤₜ))), b = 0.</summary>
    Xavier,
    /// <summary>He (Kaiming) normal, for ReLU: W ~ N(0, 2/nᵢₙ), b = 0.</summary>
    He,
}

/// <summary>Fills a flat parameter vector according to an <see cref="Initialization"/>.
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers.</para></summary>
public static class Initializer
{
    /// <summary>Draws every parameter of <paramref name="spec"/> into <paramref name="theta"/>. The draws are made
    /// in double and rounded to T, so a float and a double network from the same seed agree to float precision.</summary>
    public static void Fill<T>(NetworkSpec spec, Span<T> theta, Initialization scheme, long seed)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (theta.Length != spec.Layout.Count) Shapes.ThrowLengths("theta", theta.Length, "the layout", spec.Layout.Count);
        var rng = new SeededRandom(seed);
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            var layer = spec.Layers[l];
            double nIn = layer.Inputs, nOut = layer.Outputs;
            var w = spec.Layout.Weight(l).Of(theta);
            var b = spec.Layout.Bias(l).Of(theta);
            switch (scheme)
            {
                case Initialization.PyTorch:
                    Uniform(ref rng, w, 1 / Math.Sqrt(nIn));
                    Uniform(ref rng, b, 1 / Math.Sqrt(nIn));
                    break;
                case Initialization.Nielsen:
                    Normal(ref rng, w, 1 / Math.Sqrt(nIn));
                    Normal(ref rng, b, 1);
                    break;
                case Initialization.Xavier:
                    Uniform(ref rng, w, Math.Sqrt(6 / (nIn + nOut)));
                    b.Clear();
                    break;
                case Initialization.He:
                    Normal(ref rng, w, Math.Sqrt(2 / nIn));
                    b.Clear();
                    break;
                default:
                    Shapes.ThrowUnknown(scheme);
                    break;
            }
        }
    }

    private static void Uniform<T>(ref SeededRandom rng, Span<T> x, double bound)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked((2 * rng.NextDouble() - 1) * bound);
    }

    private static void Normal<T>(ref SeededRandom rng, Span<T> x, double std)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextGaussian() * std);
    }
}
