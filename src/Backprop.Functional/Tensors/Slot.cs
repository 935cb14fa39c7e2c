namespace Backprop.Functional;

/// <summary>One named tensor inside a flat parameter vector: elements [Offset, Offset + Length) hold a
/// row-major [Rows × Columns] matrix, or a [Rows] vector when <see cref="Rank"/> is 1 (then Columns = 1).
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Name">Tensor name as it appears in model files, e.g. <c>layers.0.weight</c>.</param>
/// <param name="Offset">Index of the first element in the flat vector.</param>
/// <param name="Rows">Rows (for a weight matrix Wˡ: the layer's outputs).</param>
/// <param name="Columns">Columns (for a weight matrix Wˡ: the layer's inputs; 1 for a bias vector).</param>
public readonly record struct Slot(string Name, int Offset, int Rows, int Columns)
{
    /// <summary>2 for a matrix, 1 for a vector (a bias: [Rows]).</summary>
    public int Rank { get; init; } = 2;

    /// <summary>Whether L2 / weight decay applies (the weight matrices), as the layer's kind declared it.</summary>
    public bool Decayed { get; init; }

    /// <summary>How <see cref="Initializer"/> draws it, as the layer's kind declared it.</summary>
    public ParameterInit Init { get; init; }

    /// <summary>The fan-in <see cref="Initializer"/> uses (0: the layer's inputs), as the layer's kind declared it.</summary>
    public int FanIn { get; init; }

    /// <summary>Number of elements, Rows × Columns.</summary>
    public int Length => Rows * Columns;

    /// <summary>The slot's shape as text, e.g. <c>[128 × 784]</c> or <c>[10]</c>.</summary>
    public string Shape => Rank == 1 ? $"[{Rows}]" : $"[{Rows} × {Columns}]";

    /// <summary>This slot's elements within <paramref name="flat"/>.</summary>
    public Span<T> Of<T>(Span<T> flat) => flat.Slice(Offset, Length);

    /// <summary>This slot's elements within <paramref name="flat"/>.</summary>
    public ReadOnlySpan<T> Of<T>(ReadOnlySpan<T> flat) => flat.Slice(Offset, Length);
}
