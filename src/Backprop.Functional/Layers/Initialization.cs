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
    /// <summary>Martens (2010) sparse initialisation: each unit (each row of nᵢₙ weights) gets exactly 15 non-zero
    /// incoming weights ~ N(0, 1) at distinct positions drawn uniformly (all nᵢₙ when nᵢₙ ≤ 15), the rest 0; b = 0.</summary>
    Sparse,
}

/// <summary>Fills a flat parameter vector according to an <see cref="Initialization"/>.
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers.</para></summary>
public static class Initializer
{
    /// <summary>Draws every parameter of <paramref name="spec"/> into <paramref name="theta"/>, tensor by tensor in θ
    /// order, each as its kind declared (<see cref="ParameterInit"/>: weights and biases by the scheme's rules with the
    /// layer's fan-in and fan-out, scales as ones, the rest as zeros). The draws are made
    /// in double and rounded to T, so a float and a double network from the same seed agree to float precision.</summary>
    public static void Fill<T>(NetworkSpec spec, Span<T> theta, Initialization scheme, long seed)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (theta.Length != spec.Layout.Count) Shapes.ThrowLengths("theta", theta.Length, "the layout", spec.Layout.Count);
        if (!Enum.IsDefined(scheme)) Shapes.ThrowUnknown(scheme);
        var rng = new SeededRandom(seed);
        var layout = spec.Layout;
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            var layer = spec.Layers[l];
            foreach (var slot in layout.SlotsOf(l))
            {
                double nIn = slot.FanIn > 0 ? slot.FanIn : layer.Inputs, nOut = layer.Outputs;
                var values = slot.Of(theta);
                switch (slot.Init)
                {
                    case ParameterInit.FanIn: Weights(ref rng, values, scheme, nIn, nOut); break;
                    case ParameterInit.Bias: Biases(ref rng, values, scheme, nIn); break;
                    case ParameterInit.Ones: values.Fill(T.One); break;
                    case ParameterInit.Zeros: values.Clear(); break;
                    default: Shapes.ThrowUnknown(slot.Init); break;
                }
            }
        }
    }

    /// <summary>A weight tensor (<see cref="ParameterInit.FanIn"/>) by the scheme's weight rule.</summary>
    private static void Weights<T>(ref SeededRandom rng, Span<T> w, Initialization scheme, double nIn, double nOut)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        switch (scheme)
        {
            case Initialization.PyTorch: Uniform(ref rng, w, 1 / Math.Sqrt(nIn)); break;
            case Initialization.Nielsen: Normal(ref rng, w, 1 / Math.Sqrt(nIn)); break;
            case Initialization.Xavier: Uniform(ref rng, w, Math.Sqrt(6 / (nIn + nOut))); break;
            case Initialization.He: Normal(ref rng, w, Math.Sqrt(2 / nIn)); break;
            case Initialization.Sparse: SparseRows(ref rng, w, (int)nIn); break;
            default: Shapes.ThrowUnknown(scheme); break;
        }
    }

    /// <summary>A bias tensor (<see cref="ParameterInit.Bias"/>) by the scheme's bias rule.</summary>
    private static void Biases<T>(ref SeededRandom rng, Span<T> b, Initialization scheme, double nIn)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        switch (scheme)
        {
            case Initialization.PyTorch: Uniform(ref rng, b, 1 / Math.Sqrt(nIn)); break;
            case Initialization.Nielsen: Normal(ref rng, b, 1); break;
            case Initialization.Xavier or Initialization.He or Initialization.Sparse: b.Clear(); break;
            default: Shapes.ThrowUnknown(scheme); break;
        }
    }

    private static void Uniform<T>(ref SeededRandom rng, Span<T> x, double bound)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked((2 * rng.NextDouble() - 1) * bound);
    }

    /// <summary>Rows of <paramref name="fanIn"/> values, each with min(15, fanIn) N(0, 1) entries at distinct uniform positions.</summary>
    private static void SparseRows<T>(ref SeededRandom rng, Span<T> w, int fanIn)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        const int NonZero = 15;
        int k = Math.Min(NonZero, fanIn);
        Span<int> chosen = stackalloc int[NonZero];
        w.Clear();
        for (int row = 0; row + fanIn <= w.Length; row += fanIn)
            for (int c = 0; c < k; c++)
            {
                int j;
                do j = rng.Next(fanIn); while (chosen[..c].Contains(j));
                chosen[c] = j;
                w[row + j] = T.CreateChecked(rng.NextGaussian());
            }
    }

    private static void Normal<T>(ref SeededRandom rng, Span<T> x, double std)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextGaussian() * std);
    }
}
