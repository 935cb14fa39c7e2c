namespace Backprop.Functional;

/// <summary>How <see cref="Initializer"/> draws a parameter tensor.</summary>
public enum ParameterInit
{
    /// <summary>A weight: the scheme's weight rule with the layer's fan-in and fan-out (PyTorch U(±1/√nᵢₙ) …).</summary>
    FanIn,
    /// <summary>A bias: the scheme's bias rule (PyTorch U(±1/√nᵢₙ), Nielsen N(0, 1), Xavier and He zero).</summary>
    Bias,
    /// <summary>All ones (a scale, as LayerNorm's weight).</summary>
    Ones,
    /// <summary>All zeros.</summary>
    Zeros,
}

/// <summary>One tensor a layer kind owns, as the kind declares it: its name within the layer (PyTorch's, e.g.
/// <c>weight</c>), its shape and how it is drawn. <see cref="ParameterLayout"/> places the tensors of every layer in
/// the one flat θ, in declaration order, as <c>layers.{l}.{Name}</c>.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Name">Name within the layer: <c>weight</c>, <c>bias</c>, <c>weight_ih</c> …</param>
/// <param name="Rows">Rows (a vector's length).</param>
/// <param name="Columns">Columns (1 for a vector).</param>
/// <param name="Rank">2 for a matrix, 1 for a vector.</param>
/// <param name="Decayed">Whether L2 / weight decay on weights applies (Nielsen's L2 decays weights, not biases).</param>
/// <param name="Init">How it is drawn.</param>
public readonly record struct ParameterTensor(string Name, int Rows, int Columns, int Rank, bool Decayed, ParameterInit Init)
{
    /// <summary>A decayed [rows × columns] matrix drawn by fan-in (a weight).</summary>
    public static ParameterTensor Matrix(string name, int rows, int columns) =>
        new(name, rows, columns, 2, Decayed: true, ParameterInit.FanIn);

    /// <summary>A [n] vector, not decayed, drawn by <paramref name="init"/> (a bias by default).</summary>
    public static ParameterTensor Vector(string name, int n, ParameterInit init = ParameterInit.Bias) =>
        new(name, n, 1, 1, Decayed: false, init);

    /// <summary>The fan-in the initialisation scheme uses for this tensor; 0 (the default) means the layer's
    /// <see cref="Layer.Inputs"/>. Recurrent kinds set the hidden width, as torch.nn.RNN/LSTM/GRU draw every tensor
    /// from U(±1/√hidden).</summary>
    public int FanIn { get; init; }

    /// <summary>Number of elements, Rows × Columns, exact in a long.</summary>
    public long Length => (long)Rows * Columns;
}
