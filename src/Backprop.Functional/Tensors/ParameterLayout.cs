namespace Backprop.Functional;

/// <summary>
/// Where every weight matrix and bias vector of a model lives in ONE flat vector. Parameters, gradients,
/// optimizer moments and curvature diagonals all share this layout, so an optimizer is one loop over a span,
/// a gradient check perturbs index i, and an all-reduce sends one buffer.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para>
/// </summary>
/// <remarks>Layer l's tensors (<see cref="ILayerKernel{TLayer}.Parameters"/>) sit one after another as
/// <c>layers.l.{name}</c>, layer after layer; a dense layer's are <c>layers.l.weight</c> (Wˡ, [outputs × inputs]) then
/// <c>layers.l.bias</c> (bˡ, [outputs]). The names follow PyTorch's <c>nn.Sequential</c> state dict.</remarks>
public sealed record ParameterLayout
{
    private readonly Slot[] _slots;
    private readonly Slot[] _decayed;
    private readonly int[] _firstSlot;    // per layer, then one past the last: layer l's slots are [_firstSlot[l], _firstSlot[l + 1])
    private readonly int[] _layerOffset;  // per layer, then Count: layer l's elements are [_layerOffset[l], _layerOffset[l + 1])
    private readonly int[] _weight, _bias;   // per layer, the index of its "weight" / "bias" slot, or −1
    private readonly string[] _kinds;

    private ParameterLayout(Slot[] slots, int[] firstSlot, int[] layerOffset, int[] weight, int[] bias, string[] kinds)
    {
        _slots = slots;
        _firstSlot = firstSlot;
        _layerOffset = layerOffset;
        _weight = weight;
        _bias = bias;
        _kinds = kinds;
        Count = layerOffset[^1];
        _decayed = Array.FindAll(slots, static slot => slot.Decayed);
    }

    /// <summary>Largest number of parameters a layout may hold: 250 million. θ in double is then at most 2 GB, which
    /// one .NET array or span of bytes can hold (a model file writes θ as one span), and a trainer's θ, gradient and
    /// optimizer moments (four or five such vectors) still fit the memory of an ordinary machine.</summary>
    public const int MaxCount = 250_000_000;

    /// <summary>Total number of parameters (the flat vector's length).</summary>
    public int Count { get; }

    /// <summary>The slots in order of offset.</summary>
    public ReadOnlySpan<Slot> Slots => _slots;

    /// <summary>The slots that L2 / weight decay applies to (<see cref="Slot.Decayed"/>: the weight matrices), in order of offset.</summary>
    public ReadOnlySpan<Slot> DecayedSlots => _decayed;

    /// <summary>Number of layers.</summary>
    public int LayerCount => _kinds.Length;

    /// <summary>The layout of a stack of layers: for each layer its tensors in the order its kind declares them.</summary>
    /// <exception cref="ArgumentException">A layer's input edge does not match the previous layer's output edge.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The layers have more than <see cref="MaxCount"/> parameters.</exception>
    public static ParameterLayout For(IReadOnlyList<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Shapes.RequireChained(layers);
        var tensors = new ParameterTensor[layers.Count][];
        Int128 total = 0;
        int slotCount = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            tensors[l] = layers[l].ParameterTensors();
            slotCount += tensors[l].Length;
            foreach (var t in tensors[l]) total += (Int128)t.Rows * t.Columns;
        }
        if (total > MaxCount)
            throw new ArgumentOutOfRangeException(
                $"layers {Widths(layers)} have {total} parameters, more parameters than the limit of {MaxCount} (ParameterLayout.MaxCount)", innerException: null);
        var slots = new Slot[slotCount];
        var firstSlot = new int[layers.Count + 1];
        var layerOffset = new int[layers.Count + 1];
        var kinds = new string[layers.Count];
        var weight = new int[layers.Count];
        var bias = new int[layers.Count];
        int offset = 0, s = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            firstSlot[l] = s;
            layerOffset[l] = offset;
            kinds[l] = layers[l].Kind;
            weight[l] = bias[l] = -1;
            foreach (var t in tensors[l])
            {
                if (t.Name == "weight") weight[l] = s;
                else if (t.Name == "bias") bias[l] = s;
                slots[s++] = new Slot($"layers.{l}.{t.Name}", offset, t.Rows, t.Columns) { Rank = t.Rank, Decayed = t.Decayed, Init = t.Init, FanIn = t.FanIn };
                offset += t.Rows * t.Columns;
            }
        }
        firstSlot[^1] = s;
        layerOffset[^1] = offset;
        return new ParameterLayout(slots, firstSlot, layerOffset, weight, bias, kinds);
    }

    /// <summary>The number of parameters of <paramref name="layers"/> (every tensor of every layer), without overflow
    /// (saturating at <see cref="long.MaxValue"/>); compare it with <see cref="MaxCount"/> before building anything.</summary>
    public static long CountOf(IReadOnlyList<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Int128 total = 0;   // 2³¹ layers of 2⁶² parameters each still fit
        foreach (var layer in layers)
            foreach (var t in layer.ParameterTensors())
                total += (Int128)t.Rows * t.Columns;
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
    /// <exception cref="InvalidOperationException">The layer's kind has no tensor named <c>weight</c>.</exception>
    public Slot Weight(int layer)
    {
        int s = _weight[layer];
        if (s < 0) ThrowNo(layer, "weight");
        return _slots[s];
    }

    /// <summary>Bias slot of layer <paramref name="layer"/> (bˡ, [outputs]).</summary>
    /// <exception cref="InvalidOperationException">The layer's kind has no tensor named <c>bias</c>.</exception>
    public Slot Bias(int layer)
    {
        int s = _bias[layer];
        if (s < 0) ThrowNo(layer, "bias");
        return _slots[s];
    }

    /// <summary>The slots of layer <paramref name="layer"/>, in θ order (empty for a kind without parameters).</summary>
    public ReadOnlySpan<Slot> SlotsOf(int layer) => _slots.AsSpan(_firstSlot[layer], _firstSlot[layer + 1] - _firstSlot[layer]);

    /// <summary>Elements of layer <paramref name="layer"/>: all its tensors, one after another (a dense layer's weight
    /// immediately followed by its bias).</summary>
    public Range LayerRange(int layer) => new(_layerOffset[layer], _layerOffset[layer + 1]);

    /// <summary>The first element of <paramref name="theta"/> that is NaN or infinite, said as "NaN in tensor
    /// layers.0.weight at index 3", and its layer; null (layer −1) when every element is finite. Allocates only to say
    /// what it found.</summary>
    internal string? FirstNonFinite<T>(ReadOnlySpan<T> theta, out int layer) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (layer = 0; layer < LayerCount; layer++)
            foreach (var slot in SlotsOf(layer))
            {
                var x = slot.Of(theta);
                for (int i = 0; i < x.Length; i++)
                    if (!T.IsFinite(x[i]))
                        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{x[i]} in tensor {slot.Name} at index {i}");
            }
        layer = -1;
        return null;
    }

    /// <summary>Index of layer <paramref name="layer"/>'s first element in θ.</summary>
    internal int LayerOffset(int layer) => _layerOffset[layer];

    /// <summary>Number of layer <paramref name="layer"/>'s elements in θ.</summary>
    internal int LayerLength(int layer) => _layerOffset[layer + 1] - _layerOffset[layer];

    private void ThrowNo(int layer, string tensor) =>
        throw new InvalidOperationException($"layer {layer} ({_kinds[layer]}) has no {tensor}");

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
