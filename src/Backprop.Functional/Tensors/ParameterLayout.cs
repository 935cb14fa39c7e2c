namespace Backprop.Functional;

/// <summary>
/// Where every weight matrix and bias vector of a model lives in ONE flat vector. Parameters, gradients,
/// optimizer moments and curvature diagonals all share this layout, so an optimizer is one loop over a span,
/// a gradient check perturbs index i, and an all-reduce sends one buffer.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para>
/// </summary>
/// <remarks>Dense layer l occupies <c>layers.l.weight</c> (Wˡ, [outputs × inputs]) followed by
/// <c>layers.l.bias</c> (bˡ, [outputs]); the names follow PyTorch's <c>nn.Sequential</c> state dict.</remarks>
public sealed record ParameterLayout
{
    private readonly Slot[] _slots;

    private ParameterLayout(Slot[] slots, int count)
    {
        _slots = slots;
        Count = count;
    }

    /// <summary>Largest number of parameters a layout may hold: 250 million. θ in double is then at most 2 GB, which
    /// one .NET array or span of bytes can hold (a model file writes θ as one span), and a trainer's θ, gradient and
    /// optimizer moments (four or five such vectors) still fit the memory of an ordinary machine.</summary>
    public const int MaxCount = 250_000_000;

    /// <summary>Total number of parameters (the flat vector's length).</summary>
    public int Count { get; }

    /// <summary>The slots in order of offset.</summary>
    public ReadOnlySpan<Slot> Slots => _slots;

    /// <summary>The layout of a stack of layers: for each layer its weight, then its bias.</summary>
    /// <exception cref="ArgumentException">A layer's inputs do not match the previous layer's outputs.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The layers have more than <see cref="MaxCount"/> parameters.</exception>
    public static ParameterLayout For(IReadOnlyList<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Shapes.RequireChained(layers);
        long total = CountOf(layers);
        if (total > MaxCount)
            throw new ArgumentOutOfRangeException(
                $"layers {Widths(layers)} have {total} parameters, more parameters than the limit of {MaxCount} (ParameterLayout.MaxCount)", innerException: null);
        var slots = new Slot[layers.Count * 2];
        int offset = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            slots[2 * l] = new Slot($"layers.{l}.weight", offset, layer.Outputs, layer.Inputs);
            offset += layer.Outputs * layer.Inputs;
            slots[2 * l + 1] = new Slot($"layers.{l}.bias", offset, layer.Outputs, 1);
            offset += layer.Outputs;
        }
        return new ParameterLayout(slots, offset);
    }

    /// <summary>The number of parameters of <paramref name="layers"/> (weights and biases), without overflow (saturating at
    /// <see cref="long.MaxValue"/>); compare it with <see cref="MaxCount"/> before building anything.</summary>
    public static long CountOf(IReadOnlyList<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Int128 total = 0;   // 2³¹ layers of 2⁶² parameters each still fit
        foreach (var layer in layers)
            total += ((Int128)layer.Outputs * layer.Inputs) + layer.Outputs;
        return total > long.MaxValue ? long.MaxValue : (long)total;
    }

    private static string Widths(IReadOnlyList<Layer> layers)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(layers[0].Inputs);
        foreach (var layer in layers) sb.Append('-').Append(layer.Outputs);
        return sb.ToString();
    }

    /// <summary>Weight slot of layer <paramref name="layer"/> (Wˡ, [outputs × inputs]).</summary>
    public Slot Weight(int layer) => _slots[2 * layer];

    /// <summary>Bias slot of layer <paramref name="layer"/> (bˡ, [outputs]).</summary>
    public Slot Bias(int layer) => _slots[2 * layer + 1];

    /// <summary>Elements of layer <paramref name="layer"/>: its weight immediately followed by its bias.</summary>
    public Range LayerRange(int layer) => new(Weight(layer).Offset, Bias(layer).Offset + Bias(layer).Length);

    /// <summary>The slot containing flat index <paramref name="index"/>.</summary>
    public Slot SlotOf(int index)
    {
        foreach (var s in _slots)
            if (index >= s.Offset && index < s.Offset + s.Length) return s;
        throw new ArgumentOutOfRangeException(nameof(index), index, $"index is outside the layout's {Count} parameters");
    }

    /// <summary>Value equality: same slots in the same order.</summary>
    public bool Equals(ParameterLayout? other) =>
        other is not null && Count == other.Count && _slots.AsSpan().SequenceEqual(other._slots);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Count, _slots.Length);
}
