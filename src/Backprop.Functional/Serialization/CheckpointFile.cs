using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Backprop.Functional;

/// <summary>Saves and loads a <see cref="TrainingCheckpoint{T}"/> as a safetensors file, written like a model file
/// (temporary file, flushed to disk, renamed over the target: a crash leaves the previous checkpoint intact).
/// <para>Threads: Save and Load may run on several threads at once; two saves to one path race, and the last rename
/// wins (each file is whole).</para></summary>
/// <remarks>
/// <para>Tensors: θ as in a model file (<c>layers.{l}.weight</c>, <c>layers.{l}.bias</c>, F32 or F64), then
/// <c>optimizer.moments</c> [moments, θ] (absent for an optimizer without moments), <c>data.order</c> I32 [n], and for
/// finished epochs <c>history</c> F64 [epochs, 6] (epoch, train loss, samples/s, seconds, test loss, test accuracy; NaN
/// without a test set) and <c>history.confusion</c> I32 [epochs, k, k]. <c>__metadata__</c>: <c>format</c> =
/// <c>backprop-functional-checkpoint</c>, <c>version</c>, <c>layers</c>, <c>loss</c>, <c>optimizer</c>, <c>moments</c>,
/// <c>step</c>, <c>epoch</c>, <c>batch</c>, <c>batch_size</c>, <c>shuffle_state</c>, <c>epoch_loss_sum</c>,
/// <c>start_cost</c>, <c>running_cost</c> (doubles in round-trip form), the caller's entries, and <c>sha256</c>, the
/// SHA-256 of every other metadata entry and the whole data section, so any changed byte is detected on load.</para>
/// <para>Written on little-endian machines (every platform .NET ships for but s390x).</para>
/// </remarks>
public static class CheckpointFile
{
    /// <summary>The value of the <c>format</c> metadata entry that marks a checkpoint.</summary>
    public const string Format = "backprop-functional-checkpoint";

    private const string Version = "1";
    private const int HistoryColumns = 6;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Metadata keys the checkpoint format reserves; callers may not set them.</summary>
    public static IReadOnlyList<string> ReservedMetadataKeys { get; } =
    [
        "format", "version", "layers", "loss", "optimizer", "moments", "step", "epoch", "batch", "batch_size",
        "shuffle_state", "epoch_loss_sum", "start_cost", "running_cost", "sha256",
    ];

    /// <summary>Writes <paramref name="checkpoint"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The file to write; replaced if it exists. Its directory must exist.</param>
    /// <param name="checkpoint">The state to save.</param>
    /// <param name="metadata">Extra string entries (e.g. the command line that made the run); not
    /// <see cref="ReservedMetadataKeys"/>. Null: the checkpoint's own <see cref="TrainingCheckpoint{T}.Metadata"/>.</param>
    /// <exception cref="ArgumentException">The checkpoint is inconsistent (lengths, a non-finite parameter or moment, an
    /// order that is not a permutation) or the metadata uses a reserved key. Nothing is written.</exception>
    /// <exception cref="IOException">Writing failed; an existing file at <paramref name="path"/> is unchanged.</exception>
    public static void Save<T>(string path, TrainingCheckpoint<T> checkpoint, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(checkpoint);
        RequireLittleEndian();
        var c = checkpoint;
        string dtype = SafeTensors.DTypeOf<T>("checkpoints");
        int n = c.Spec.Layout.Count;
        if (c.Parameters.Length != n) Shapes.ThrowLengths("θ", c.Parameters.Length, $"the layout of {c.Spec}", n);
        if (c.MomentCount < 0 || c.Moments.Length != (long)c.MomentCount * n)
            throw new ArgumentException($"the checkpoint holds {c.Moments.Length} moment values, not {c.MomentCount} × {n}", nameof(checkpoint));
        RequireFinite(c.Parameters, "θ");
        RequireFinite(c.Moments, "the optimizer's moments");
        if (!Trainer.IsPermutation(c.Order)) throw new ArgumentException("the checkpoint's data order is not a permutation of the rows", nameof(checkpoint));
        if (c.History.Count != c.Epoch)
            throw new ArgumentException($"the checkpoint holds {c.History.Count} epoch results for {c.Epoch} finished epochs", nameof(checkpoint));

        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = Format,
            ["version"] = Version,
            ["layers"] = LayerListText.Format(c.Spec),
            ["loss"] = c.Spec.Loss.ToString(),
            ["optimizer"] = c.OptimizerName,
            ["moments"] = c.MomentCount.ToString(Inv),
            ["step"] = c.Step.ToString(Inv),
            ["epoch"] = c.Epoch.ToString(Inv),
            ["batch"] = c.Batch.ToString(Inv),
            ["batch_size"] = c.BatchSize.ToString(Inv),
            ["shuffle_state"] = c.ShuffleState.ToString(Inv),
            ["epoch_loss_sum"] = c.EpochLossSum.ToString("R", Inv),
            ["start_cost"] = c.StartCost.ToString("R", Inv),
            ["running_cost"] = c.RunningCost.ToString("R", Inv),
        };
        foreach (var (key, value) in metadata ?? c.Metadata)
        {
            if (key is null || value is null) throw new ArgumentException($"metadata entry \"{key}\" has a null key or value", nameof(metadata));
            if (ReservedMetadataKeys.Contains(key))
                throw new ArgumentException($"metadata key \"{key}\" is reserved by the checkpoint format", nameof(metadata));
            entries.Add(key, value);
        }

        var (history, confusion, classes) = HistoryArrays(c.History);
        var sections = new Sections<T>(c.Parameters, c.Moments, c.Order, history, confusion);
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var tensors = new List<(string, string, long[], long, long)>();
        var layout = c.Spec.Layout;
        foreach (var slot in layout.Slots)
            tensors.Add((slot.Name, dtype, ModelFile.ShapeOf(slot),
                (long)slot.Offset * size, (long)(slot.Offset + slot.Length) * size));
        long at = (long)n * size;
        void Add(string name, string type, long[] shape, long bytes)
        {
            tensors.Add((name, type, shape, at, at + bytes));
            at += bytes;
        }
        if (c.MomentCount > 0) Add("optimizer.moments", dtype, [c.MomentCount, n], (long)c.Moments.Length * size);
        Add("data.order", "I32", [c.Order.Length], 4L * c.Order.Length);
        if (c.Epoch > 0)
        {
            Add("history", "F64", [c.Epoch, HistoryColumns], 8L * history.Length);
            if (confusion.Length > 0) Add("history.confusion", "I32", [c.Epoch, classes, classes], 4L * confusion.Length);
        }

        entries["sha256"] = Hash(entries, sections, stream: null, 0);
        var content = new Content<T>(SafeTensors.WriteHeader(tensors, entries), sections);
        SafeTensors.WriteAtomically(path, ref content);
    }

    /// <summary>Reads the checkpoint at <paramref name="path"/>; its parameters must be stored as <typeparamref name="T"/>
    /// (a checkpoint is resumed in the precision it was written in: converting would break the bit-for-bit resume).</summary>
    /// <exception cref="InvalidDataException">The file is not a valid checkpoint: not safetensors, another format, a
    /// missing or malformed entry, a tensor of the wrong dtype or shape, a checksum that does not match its contents
    /// (a changed or truncated byte), non-finite parameters or moments, or an order that is not a permutation. The
    /// message starts with the path and gives the reason.</exception>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="layerCatalog">The layer kinds the file may name (null: <see cref="LayerCatalog.Default"/>, the
    /// built-in kinds), as for <see cref="ModelFile.Load{T}(string, LayerCatalog?)"/>.</param>
    public static TrainingCheckpoint<T> Load<T>(string path, LayerCatalog? layerCatalog = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RequireLittleEndian();
        string dtype = SafeTensors.DTypeOf<T>("checkpoints");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        SafeTensorsHeader header;
        try
        {
            header = SafeTensors.ReadHeader(stream, path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(e.Message.Replace(" is not a valid model file:", " is not a valid checkpoint:", StringComparison.Ordinal), e);
        }
        var meta = header.Metadata;
        string Get(string key) => meta.TryGetValue(key, out string? v) ? v : throw Bad(path, $"__metadata__ has no \"{key}\" entry");
        if (!meta.TryGetValue("format", out string? format) || format != Format)
            throw Bad(path, format is null ? $"__metadata__ has no \"format\" entry; expected \"{Format}\"" : $"its format is \"{format}\", not \"{Format}\"");
        if (Get("version") != Version) throw Bad(path, $"version \"{meta["version"]}\" is not the supported \"{Version}\"");

        NetworkSpec? spec;
        string error;
        try
        {
            if (!LayerListText.TryParse(Get("layers"), Get("loss"), out spec, out error, layerCatalog)) throw Bad(path, error);
            _ = spec!.Layout.Count;
        }
        catch (Exception e) when (e is OverflowException or ArgumentException)
        {
            throw Bad(path, $"the layers \"{meta["layers"]}\" do not describe a network that fits in memory: {e.Message}", e);
        }
        int n = spec.Layout.Count;
        string optimizer = Get("optimizer");
        int moments = Int(path, meta, "moments", 0, 64);
        long step = Long(path, meta, "step");
        int epoch = Int(path, meta, "epoch", 0, int.MaxValue);
        int batch = Int(path, meta, "batch", 0, int.MaxValue);
        int batchSize = Int(path, meta, "batch_size", 1, int.MaxValue);
        if (!ulong.TryParse(Get("shuffle_state"), NumberStyles.None, Inv, out ulong shuffle))
            throw Bad(path, $"shuffle_state \"{meta["shuffle_state"]}\" is not an unsigned 64-bit integer");
        double lossSum = Double(path, meta, "epoch_loss_sum"), start = Double(path, meta, "start_cost"), running = Double(path, meta, "running_cost");
        string sha = Get("sha256");

        // Every tensor's dtype and shape against what the metadata implies, before anything is allocated: the sizes are
        // then bounded by the file's length (the container check made the tensors tile the data section).
        var byName = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        foreach (var t in header.Tensors) byName.Add(t.Name, t);
        var layout = spec.Layout;
        foreach (var slot in layout.Slots)
            Expect(path, byName, slot.Name, dtype, ModelFile.ShapeOf(slot));
        if (moments > 0) Expect(path, byName, "optimizer.moments", dtype, [moments, n]);
        var orderEntry = Take(path, byName, "data.order", "I32");
        if (orderEntry.Shape.Length != 1) throw Bad(path, $"tensor \"data.order\" has shape {orderEntry.ShapeText}, not [rows]");
        int rows = checked((int)Math.Min(orderEntry.Shape[0], int.MaxValue));
        Expect(path, byName, "data.order", "I32", [rows]);
        int classes = 0;
        if (epoch > 0)
        {
            Expect(path, byName, "history", "F64", [epoch, HistoryColumns]);
            if (byName.TryGetValue("history.confusion", out var conf))
            {
                if (conf.Shape.Length != 3 || conf.Shape[1] != conf.Shape[2] || conf.Shape[1] > 1 << 15)   // what earlier versions wrote
                    throw Bad(path, $"tensor \"history.confusion\" has shape {conf.ShapeText}, not [epochs, classes, classes]");
                classes = (int)conf.Shape[1];
                Expect(path, byName, "history.confusion", "I32", [epoch, classes, classes]);
            }
        }
        foreach (var t in header.Tensors)
            if (!Planned(t.Name, layout, moments, epoch, classes))
                throw Bad(path, $"tensor \"{t.Name}\" is not part of a checkpoint");

        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in meta)
            if (key != "sha256") entries.Add(key, value);
        string actual = Hash<T>(entries, default, stream, header.DataStart);
        if (!string.Equals(actual, sha, StringComparison.Ordinal))
            throw Bad(path, $"its contents do not match its sha256 checksum (stored {sha}, computed {actual}): the file was changed or damaged");

        var theta = new T[n];
        var momentValues = new T[checked(moments * n)];
        var order = new int[rows];
        var history = new double[(long)epoch * HistoryColumns];
        var confusion = new int[checked(epoch * classes * classes)];
        stream.Position = header.DataStart;
        foreach (var slot in layout.Slots) Read(stream, header.DataStart, byName[slot.Name], MemoryMarshal.AsBytes(slot.Of(theta.AsSpan())));
        if (moments > 0) Read(stream, header.DataStart, byName["optimizer.moments"], MemoryMarshal.AsBytes(momentValues.AsSpan()));
        Read(stream, header.DataStart, byName["data.order"], MemoryMarshal.AsBytes(order.AsSpan()));
        if (epoch > 0) Read(stream, header.DataStart, byName["history"], MemoryMarshal.AsBytes(history.AsSpan()));
        if (classes > 0) Read(stream, header.DataStart, byName["history.confusion"], MemoryMarshal.AsBytes(confusion.AsSpan()));

        if (FirstNonFinite(theta) is int i) throw Bad(path, $"θ holds {theta[i]} at index {i} ({layout.SlotOf(i).Name})");
        if (FirstNonFinite(momentValues) is int j) throw Bad(path, $"the optimizer's moments hold {momentValues[j]} at index {j}");
        if (!Trainer.IsPermutation(order)) throw Bad(path, "data.order is not a permutation of the rows");

        var results = new EpochResult[epoch];
        for (int e = 0; e < epoch; e++)
        {
            var h = history.AsSpan(e * HistoryColumns, HistoryColumns);
            Evaluation? test = double.IsNaN(h[4]) ? null
                : new Evaluation(h[4], h[5], classes > 0 ? confusion.AsSpan(e * classes * classes, classes * classes).ToArray() : [], classes);
            results[e] = new EpochResult((int)h[0], h[1], test, h[2], TimeSpan.FromSeconds(h[3]));
        }

        var rest = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in meta)
            if (!ReservedMetadataKeys.Contains(key)) rest.Add(key, value);
        return new TrainingCheckpoint<T>(spec, theta, optimizer, moments, momentValues, step, epoch, batch, batchSize, shuffle, order,
            lossSum, start, running, results, rest);
    }

    private static (double[] History, int[] Confusion, int Classes) HistoryArrays(IReadOnlyList<EpochResult> results)
    {
        int classes = 0;
        foreach (var r in results)
            if (r.Test is { } t && t.Confusion.Length > 0) classes = Math.Max(classes, t.Classes);   // none kept: none written
        var history = new double[results.Count * HistoryColumns];
        var confusion = new int[results.Count * classes * classes];
        for (int e = 0; e < results.Count; e++)
        {
            var r = results[e];
            var h = history.AsSpan(e * HistoryColumns);
            (h[0], h[1], h[2], h[3]) = (r.Epoch, r.TrainLoss, r.SamplesPerSecond, r.Elapsed.TotalSeconds);
            (h[4], h[5]) = r.Test is { } t ? (t.Loss, t.Accuracy) : (double.NaN, double.NaN);
            if (r.Test is { } test && test.Classes == classes && test.Confusion.Length == classes * classes)
                test.Confusion.CopyTo(confusion, e * classes * classes);
        }
        return (history, confusion, classes);
    }

    /// <summary>SHA-256 of the metadata entries (key, NUL, value, NUL, in ordinal order) and the data section: from
    /// <paramref name="sections"/> when writing, from <paramref name="stream"/> when reading.</summary>
    private static string Hash<T>(SortedDictionary<string, string> entries, Sections<T> sections, Stream? stream, long dataStart)
        where T : unmanaged
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (key, value) in entries)
        {
            if (key == "sha256") continue;
            hash.AppendData(Encoding.UTF8.GetBytes(key + "\0" + value + "\0"));
        }
        if (stream is null)
        {
            sections.AppendTo(hash);
        }
        else
        {
            stream.Position = dataStart;
            var chunk = new byte[1 << 16];
            int read;
            while ((read = stream.Read(chunk)) > 0) hash.AppendData(chunk.AsSpan(0, read));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void Expect(string path, Dictionary<string, TensorEntry> byName, string name, string dtype, long[] shape)
    {
        var t = Take(path, byName, name, dtype);
        string expected = "[" + string.Join(", ", shape) + "]";
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw Bad(path, $"tensor \"{name}\" has shape {t.ShapeText}, expected {expected}");
        long bytes = dtype is "F64" ? 8 : 4;
        foreach (long d in shape) bytes = checked(bytes * d);
        if (t.End - t.Begin != bytes)
            throw Bad(path, $"tensor \"{name}\" ({dtype} {expected}) needs {bytes} bytes but its data_offsets [{t.Begin}, {t.End}] span {t.End - t.Begin}");
    }

    private static TensorEntry Take(string path, Dictionary<string, TensorEntry> byName, string name, string dtype)
    {
        if (!byName.TryGetValue(name, out var t)) throw Bad(path, $"tensor \"{name}\" is missing");
        if (t.DType != dtype) throw Bad(path, $"tensor \"{name}\" has dtype {t.DType}, expected {dtype}");
        return t;
    }

    private static bool Planned(string name, ParameterLayout layout, int moments, int epoch, int classes)
    {
        foreach (var slot in layout.Slots)
            if (slot.Name == name) return true;
        return name == "data.order" || (name == "optimizer.moments" && moments > 0)
            || (name == "history" && epoch > 0) || (name == "history.confusion" && classes > 0);
    }

    private static void Read(Stream stream, long dataStart, TensorEntry t, Span<byte> destination)
    {
        stream.Position = dataStart + t.Begin;
        stream.ReadExactly(destination);
    }

    private static int? FirstNonFinite<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return null;
    }

    private static int Int(string path, IReadOnlyDictionary<string, string> meta, string key, int min, int max)
    {
        long v = Long(path, meta, key);
        if (v < min || v > max) throw Bad(path, $"{key} = {v} is outside [{min}, {max}]");
        return (int)v;
    }

    private static long Long(string path, IReadOnlyDictionary<string, string> meta, string key)
    {
        if (!meta.TryGetValue(key, out string? s)) throw Bad(path, $"__metadata__ has no \"{key}\" entry");
        if (!long.TryParse(s, NumberStyles.AllowLeadingSign, Inv, out long v) || v < 0)
            throw Bad(path, $"{key} \"{s}\" is not a non-negative integer");
        return v;
    }

    private static double Double(string path, IReadOnlyDictionary<string, string> meta, string key)
    {
        if (!meta.TryGetValue(key, out string? s)) throw Bad(path, $"__metadata__ has no \"{key}\" entry");
        if (!double.TryParse(s, NumberStyles.Float, Inv, out double v)) throw Bad(path, $"{key} \"{s}\" is not a number");
        return v;
    }

    private static void RequireFinite<T>(T[] values, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (FirstNonFinite(values) is int i)
            throw new ArgumentException($"{what} hold {values[i]} at index {i}; a checkpoint stores finite values only", nameof(values));
    }

    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoints are written and read on little-endian machines");
    }

    private static InvalidDataException Bad(string path, string reason, Exception? inner = null) =>
        SafeTensors.Bad(path, reason, inner, "checkpoint");

    /// <summary>The data section's arrays, in file order.</summary>
    private readonly struct Sections<T>(T[] theta, T[] moments, int[] order, double[] history, int[] confusion) where T : unmanaged
    {
        public void AppendTo(IncrementalHash hash)
        {
            hash.AppendData(MemoryMarshal.AsBytes(theta.AsSpan()));
            hash.AppendData(MemoryMarshal.AsBytes(moments.AsSpan()));
            hash.AppendData(MemoryMarshal.AsBytes(order.AsSpan()));
            hash.AppendData(MemoryMarshal.AsBytes(history.AsSpan()));
            hash.AppendData(MemoryMarshal.AsBytes(confusion.AsSpan()));
        }

        public void WriteTo(Stream stream)
        {
            stream.Write(MemoryMarshal.AsBytes(theta.AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(moments.AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(order.AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(history.AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(confusion.AsSpan()));
        }
    }

    /// <summary>The file's bytes: length prefix, header, data section.</summary>
    private readonly struct Content<T>(byte[] header, Sections<T> sections) : IFileContent where T : unmanaged
    {
        public void WriteTo(Stream stream)
        {
            Span<byte> prefix = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            sections.WriteTo(stream);
        }
    }
}
