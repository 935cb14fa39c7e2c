using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Backprop.Functional;

/// <summary>Saves and loads models as safetensors files: an 8-byte little-endian header length N, N bytes of JSON
/// header, then θ's tensors little-endian (F32 for float networks, F64 for double), so PyTorch, NumPy and other
/// safetensors readers can open them.
/// <para>Threads: Save and Load may run on several threads at once; two saves to one path race, and the last rename
/// wins (each file complete). Save reads θ, so do not train the network while it saves.</para></summary>
/// <remarks>
/// <para>Header: one entry per <see cref="ParameterLayout"/> slot, in layout order and contiguous
/// (<c>layers.{l}.weight</c>, shape [outputs, inputs]; <c>layers.{l}.bias</c>, shape [outputs]), and a
/// <c>__metadata__</c> map holding <c>format</c> = <c>backprop-functional</c>, <c>layers</c> (e.g.
/// <c>784-128:ReLU,128-10:Softmax</c>), <c>loss</c> (a <see cref="LossKind"/> name) and the caller's entries.
/// The header is padded with spaces to a multiple of 8 bytes, so the data buffer is 8-byte aligned.</para>
/// <para>Writes go to a temporary file in the target's directory, are flushed to disk, and are renamed over the
/// target, so a crash or error never leaves a half-written model where a good one was. The temporary is named
/// <c>&lt;path&gt;.tmp-&lt;pid&gt;-&lt;random&gt;</c>; one left by a process that was killed mid-save is deleted by the next
/// save of the same path once that process is gone.</para>
/// </remarks>
/// <example><code>
/// ModelFile.Save("mnist.safetensors", net.Spec, net.Parameters, new Dictionary&lt;string, string&gt; { ["epochs"] = "10" });
/// var model = ModelFile.Load("mnist.safetensors");
/// using var again = model.ToNetwork();
/// </code></example>
public static class ModelFile
{
    /// <summary>The value of the <c>format</c> metadata entry that marks a Backprop.Functional model file.</summary>
    public const string Format = "backprop-functional";

    /// <summary>The most tensor data a model file can hold: <see cref="ParameterLayout.MaxCount"/> parameters in F64,
    /// 2 GB. A model read from a pipe is refused past this many bytes after its header.</summary>
    public const long MaxDataBytes = (long)ParameterLayout.MaxCount * sizeof(double);

    /// <summary>Metadata keys the file format reserves; callers may not set them.</summary>
    public static IReadOnlyList<string> ReservedMetadataKeys { get; } = ["format", "layers", "loss"];

    /// <summary>Saves <paramref name="network"/>'s spec and parameters to <paramref name="path"/>.</summary>
    /// <inheritdoc cref="Save{T}(string, NetworkSpec, ReadOnlySpan{T}, IReadOnlyDictionary{string, string}?)"/>
    public static void Save<T>(string path, Network<T> network, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        Save(path, network.Spec, network.Parameters, metadata);
    }

    /// <summary>Saves a model, <paramref name="spec"/> with parameters θ, to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The file to write; replaced if it exists. Its directory must exist.</param>
    /// <param name="spec">The layers and cost.</param>
    /// <param name="theta">θ, [<c>spec.Layout.Count</c>], in layout order; every element finite.</param>
    /// <param name="metadata">Extra string entries for the header's <c>__metadata__</c> (e.g. epochs, accuracy),
    /// written in ordinal key order; not <see cref="ReservedMetadataKeys"/>.</param>
    /// <exception cref="ArgumentException">θ's length is not the layout's, θ holds NaN or ±∞ (the message names the
    /// tensor and index), or the metadata uses a reserved key or a null value. Nothing is written.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <exception cref="IOException">Writing failed; an existing file at <paramref name="path"/> is unchanged and no
    /// temporary file is left.</exception>
    public static void Save<T>(string path, NetworkSpec spec, ReadOnlySpan<T> theta, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(spec);
        string dtype = SafeTensors.DTypeOf<T>("model files");
        var layout = spec.Layout;
        if (theta.Length != layout.Count) Shapes.ThrowLengths("theta", theta.Length, $"the layout of {spec}", layout.Count);
        RequireFinite(layout, theta);

        var entries = new List<KeyValuePair<string, string>>
        {
            new("format", Format),
            new("layers", LayerListText.Format(spec)),
            new("loss", spec.Loss.ToString()),
        };
        if (metadata is not null)
        {
            var extra = new List<KeyValuePair<string, string>>(metadata.Count);
            foreach (var (key, value) in metadata)
            {
                if (key is null || value is null)
                    throw new ArgumentException($"metadata entry \"{key}\" has a null key or value", nameof(metadata));
                if (IsReserved(key))
                    throw new ArgumentException($"metadata key \"{key}\" is reserved by the file format ({string.Join(", ", ReservedMetadataKeys)})", nameof(metadata));
                extra.Add(new(key, value));
            }
            extra.Sort(static (x, y) => string.CompareOrdinal(x.Key, y.Key));
            entries.AddRange(extra);
        }

        int size = SafeTensors.ElementSize(dtype);
        var tensors = new List<(string, string, long[], long, long)>(layout.Slots.Length);
        foreach (var slot in layout.Slots)
            tensors.Add((slot.Name, dtype, ShapeOf(slot), (long)slot.Offset * size, (long)(slot.Offset + slot.Length) * size));

        var content = new Content<T>(SafeTensors.WriteHeader(tensors, entries), theta);
        SafeTensors.WriteAtomically(path, ref content);
    }

    /// <summary>Loads a model saved with float parameters (F32), or converts F64 ones to float.</summary>
    /// <inheritdoc cref="Load{T}(string, LayerCatalog?)"/>
    public static LoadedModel<float> Load(string path) => Load<float>(path);

    /// <summary>Loads the model at <paramref name="path"/>, converting its tensors to <typeparamref name="T"/> if
    /// they are stored in the other precision (F64 → float rounds to nearest).</summary>
    /// <param name="path">A file written by <see cref="Save{T}(string, NetworkSpec, ReadOnlySpan{T}, IReadOnlyDictionary{string, string}?)"/>
    /// or by any safetensors writer given the same names, shapes and metadata. It may be a pipe (<c>/dev/stdin</c>, a
    /// FIFO): that is read into memory first, up to a header of <c>SafeTensors</c>' 100 MB limit and
    /// <see cref="MaxDataBytes"/> of data.</param>
    /// <returns>The spec, θ, and the metadata other than the reserved keys.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid model file: truncated, a malformed header, missing
    /// or unknown format/layers/loss metadata, a missing or unexpected tensor, a dtype other than F32/F64, a shape that
    /// does not fit the layers (both shapes named), data offsets that overlap, leave holes or run past the data, or a
    /// NaN/±∞ parameter (tensor and index named). The message starts with the path.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <param name="layerCatalog">The layer kinds the file may name (null: <see cref="LayerCatalog.Default"/>, the
    /// built-in kinds); a kind not in it is refused naming the catalog.</param>
    public static LoadedModel<T> Load<T>(string path, LayerCatalog? layerCatalog = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeTensors.DTypeOf<T>("model files");
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        // A pipe (/dev/stdin, a FIFO) cannot seek: read it into memory, bounded by the largest model there can be.
        using Stream stream = file.CanSeek ? file : SafeTensors.ReadAll(file, path, MaxDataBytes);
        var header = SafeTensors.ReadHeader(stream, path);
        var meta = header.Metadata;

        if (!meta.TryGetValue("format", out string? format))
            throw SafeTensors.Bad(path, $"__metadata__ has no \"format\" entry; expected \"{Format}\"");
        if (format != Format)
            throw SafeTensors.Bad(path, $"__metadata__ format is \"{InputText.Excerpt(format)}\", not \"{Format}\"");
        if (!meta.TryGetValue("layers", out string? layers))
            throw SafeTensors.Bad(path, "__metadata__ has no \"layers\" entry (the layer list, e.g. 784-128:ReLU,128-10:Softmax)");
        if (!meta.TryGetValue("loss", out string? loss))
            throw SafeTensors.Bad(path, "__metadata__ has no \"loss\" entry");
        // Each dense layer needs two tensors in the header, so the header's size bounds an all-dense layer list before
        // it is parsed (other kinds may own fewer; their list is bounded by the header's length).
        int layerCount = layers.AsSpan().Count(',') + 1;
        if (layerCount > header.Tensors.Count && !layers.Contains('(', StringComparison.Ordinal))
            throw SafeTensors.Bad(path, $"the layer list names {layerCount} layers but the header has only {header.Tensors.Count} tensors (two per layer)");
        if (!LayerListText.TryParse(layers, loss, out var spec, out string error, layerCatalog))
            throw SafeTensors.Bad(path, error);

        var byName = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        foreach (var t in header.Tensors) byName.Add(t.Name, t);
        var layout = spec!.Layout;
        var slots = layout.Slots;
        var plan = new TensorEntry[slots.Length];
        for (int s = 0; s < slots.Length; s++)
            plan[s] = Expect(byName, slots[s], ShapeOf(slots[s]), path);
        if (byName.Count > plan.Length)
            foreach (var t in header.Tensors)
                if (Array.IndexOf(plan, t) < 0)
                    throw SafeTensors.Bad(path, $"tensor \"{InputText.Excerpt(t.Name)}\" is not part of the layers {InputText.Excerpt(layers)}");

        var theta = new T[layout.Count];
        for (int s = 0; s < slots.Length; s++)
            ReadTensor(stream, header.DataStart, plan[s], slots[s].Of(theta.AsSpan()), path);

        var rest = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in meta)
            if (!IsReserved(key)) rest.Add(key, value);
        return new LoadedModel<T>(spec, theta, rest);
    }

    /// <summary>A slot's safetensors shape: [rows] for a vector, [rows, columns] for a matrix.</summary>
    internal static long[] ShapeOf(Slot slot) => slot.Rank == 1 ? [slot.Rows] : [slot.Rows, slot.Columns];

    private static TensorEntry Expect(Dictionary<string, TensorEntry> byName, Slot slot, long[] shape, string path)
    {
        string expected = "[" + string.Join(", ", shape) + "]";
        if (!byName.TryGetValue(slot.Name, out var t))
            throw SafeTensors.Bad(path, $"tensor \"{slot.Name}\" ({expected}) is missing");
        int size = SafeTensors.ElementSize(t.DType);
        if (size == 0)
            throw SafeTensors.Bad(path, $"tensor \"{t.Name}\" has dtype \"{t.DType}\"; only F32 and F64 are supported");
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw SafeTensors.Bad(path, $"tensor \"{t.Name}\" has shape {t.ShapeText} but the layers need {expected}");
        long bytes = (long)slot.Length * size;
        if (t.End - t.Begin != bytes)
            throw SafeTensors.Bad(path, $"tensor \"{t.Name}\" ({t.DType} {expected}) needs {bytes} bytes but its data_offsets [{t.Begin}, {t.End}] span {t.End - t.Begin}");
        return t;
    }

    private static void ReadTensor<T>(Stream stream, long dataStart, TensorEntry t, Span<T> destination, string path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        stream.Position = dataStart + t.Begin;
        int size = SafeTensors.ElementSize(t.DType);
        try
        {
            if (size == Unsafe.SizeOf<T>())
            {
                var bytes = MemoryMarshal.AsBytes(destination);
                stream.ReadExactly(bytes);
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < bytes.Length; i += size) bytes.Slice(i, size).Reverse();
            }
            else
            {
                byte[] chunk = ArrayPool<byte>.Shared.Rent(size * 4096);
                try
                {
                    for (int i = 0; i < destination.Length; i += 4096)
                    {
                        int count = Math.Min(4096, destination.Length - i);
                        var span = chunk.AsSpan(0, count * size);
                        stream.ReadExactly(span);
                        for (int k = 0; k < count; k++)
                            destination[i + k] = size == 4
                                ? T.CreateTruncating(System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(span.Slice(k * 4)))
                                : T.CreateTruncating(System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(span.Slice(k * 8)));
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(chunk);
                }
            }
        }
        catch (EndOfStreamException e)
        {
            throw SafeTensors.Bad(path, $"tensor \"{t.Name}\" ends past the end of the file", e);
        }
        for (int i = 0; i < destination.Length; i++)
            if (!T.IsFinite(destination[i]))
                throw SafeTensors.Bad(path, $"tensor \"{t.Name}\" holds {destination[i]} at index {i}{Position(t.Shape, i)}"
                    + (size == Unsafe.SizeOf<T>() ? "" : $" (after conversion from {t.DType})")
                    + "; parameters must be finite");
    }

    private static string Position(long[] shape, int i) =>
        shape.Length == 2 ? $" (row {i / shape[1]}, column {i % shape[1]})" : "";

    private static void RequireFinite<T>(ParameterLayout layout, ReadOnlySpan<T> theta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (layout.FirstNonFinite(theta, out _) is { } bad)
            throw new ArgumentException($"theta holds {bad}; a model file stores finite parameters only", nameof(theta));
    }

    private static bool IsReserved(string key)
    {
        foreach (string reserved in ReservedMetadataKeys)
            if (key == reserved) return true;
        return false;
    }

    /// <summary>The file's bytes: length prefix, header, then θ little-endian.</summary>
    private ref struct Content<T>(byte[] header, ReadOnlySpan<T> theta) : IFileContent where T : unmanaged
    {
        private readonly ReadOnlySpan<T> _theta = theta;

        public readonly void WriteTo(Stream stream)
        {
            Span<byte> prefix = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            var bytes = MemoryMarshal.AsBytes(_theta);
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(bytes);
                return;
            }
            int size = Unsafe.SizeOf<T>();
            Span<byte> element = stackalloc byte[8];
            for (int i = 0; i < bytes.Length; i += size)
            {
                bytes.Slice(i, size).CopyTo(element);
                element[..size].Reverse();
                stream.Write(element[..size]);
            }
        }
    }
}
