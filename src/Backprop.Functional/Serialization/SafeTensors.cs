using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Backprop.Functional;

/// <summary>One tensor entry of a safetensors header: element type, shape, and its byte range
/// [Begin, End) relative to the data buffer.</summary>
internal sealed record TensorEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>A parsed safetensors header: the tensor entries (in header order), the <c>__metadata__</c> map, and
/// where the data buffer starts and how long it is.</summary>
internal sealed record SafeTensorsHeader(
    IReadOnlyList<TensorEntry> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataStart, long DataLength);

/// <summary>Something written into a file by <see cref="SafeTensors.WriteAtomically{TContent}"/>.</summary>
internal interface IFileContent
{
    void WriteTo(Stream stream);
}

/// <summary>The safetensors container (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 N,
/// N bytes of UTF-8 JSON header (padded with spaces to a multiple of 8), then the data buffer. The header maps each
/// tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c>; the optional <c>"__metadata__"</c> is a
/// string → string map. The data buffer is covered by the tensors exactly, without holes or overlaps.</summary>
/// <remarks>Only JSON writer/reader types are used (no reflection-based serializer), so this is NativeAOT clean.</remarks>
internal static class SafeTensors
{
    public const string MetadataKey = "__metadata__";

    /// <summary>Largest header accepted, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static int ElementSize(string dtype) => dtype switch
    {
        "F32" => 4,
        "F64" => 8,
        _ => 0,
    };

    /// <summary>The header bytes (without the length prefix), padded with spaces to a multiple of 8.</summary>
    public static byte[] WriteHeader(
        IReadOnlyList<(string Name, string DType, long[] Shape, long Begin, long End)> tensors,
        IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            json.WriteStartObject(MetadataKey);
            foreach (var (key, value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(t.Begin);
                json.WriteNumberValue(t.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>Reads a stream that cannot seek (a pipe) to its end into memory: the 8-byte prefix, a header of at most
    /// <see cref="MaxHeaderBytes"/>, then at most <paramref name="maxDataBytes"/>. The buffer grows with what arrives,
    /// so a lying prefix cannot force a large allocation.</summary>
    /// <exception cref="InvalidDataException">The prefix is short or past the limit, or more data arrives than allowed.</exception>
    public static MemoryStream ReadAll(Stream pipe, string path, long maxDataBytes)
    {
        Span<byte> prefix = stackalloc byte[8];
        int got = pipe.ReadAtLeast(prefix, 8, throwOnEndOfStream: false);
        if (got < 8)
            throw Bad(path, $"it is {got} bytes long, shorter than the 8-byte header length that starts a safetensors file");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw Bad(path, $"the header length {n} exceeds the limit of {MaxHeaderBytes} bytes");
        long limit = 8 + (long)n + maxDataBytes;
        if (limit > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(maxDataBytes), maxDataBytes, "more than one array can hold");
        byte[] buffer = new byte[(int)Math.Min(limit, 1 << 16)];
        prefix.CopyTo(buffer);
        int length = 8;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length == limit)
                {
                    if (pipe.ReadByte() < 0) break;
                    throw Bad(path, $"more than {limit} bytes arrive from this pipe: a header of {n} bytes and at most {maxDataBytes} bytes of tensor data");
                }
                Array.Resize(ref buffer, (int)Math.Min(limit, 2L * buffer.Length));
            }
            int read = pipe.Read(buffer, length, buffer.Length - length);
            if (read == 0) break;
            length += read;
        }
        return new MemoryStream(buffer, 0, length, writable: false);
    }

    /// <summary>Reads and checks the container: prefix, header JSON, entry syntax, and that the entries cover the
    /// data buffer exactly. Does not read the data.</summary>
    /// <exception cref="InvalidDataException">Anything is malformed; the message names <paramref name="path"/>.</exception>
    public static SafeTensorsHeader ReadHeader(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw Bad(path, $"it is {fileLength} bytes long, shorter than the 8-byte header length that starts a safetensors file");
        Span<byte> prefix = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)(fileLength - 8))
            throw Bad(path, $"the header length {n} is larger than the {fileLength - 8} bytes that follow it (truncated file?)");
        if (n > MaxHeaderBytes)
            throw Bad(path, $"the header length {n} exceeds the limit of {MaxHeaderBytes} bytes");
        if (n < 2)
            throw Bad(path, $"the header length {n} is too short for a JSON object");
        var header = new byte[(int)n];
        stream.ReadExactly(header);
        if (!Utf8.IsValid(header))
            throw Bad(path, "the header is not valid UTF-8");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            // The reader's message can quote the rest of the header; keep its start and say where the error is.
            string at = e.LineNumber is long line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            throw Bad(path, $"the header is not valid JSON{at}: {InputText.Excerpt(e.Message)}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"the header is a JSON {root.ValueKind}, not an object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            var tensors = new List<TensorEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (var property in root.EnumerateObject())
                {
                    if (property.Name == MetadataKey)
                    {
                        if (sawMetadata) throw Bad(path, $"\"{MetadataKey}\" appears twice in the header");
                        sawMetadata = true;
                        ReadMetadata(property.Value, metadata, path);
                        continue;
                    }
                    if (!names.Add(property.Name))
                        throw Bad(path, $"tensor \"{property.Name}\" appears twice in the header");
                    tensors.Add(ReadEntry(property.Name, property.Value, path));
                }
            }
            catch (InvalidOperationException e)
            {
                // JsonProperty.Name and JsonElement.GetString throw this for an escaped lone surrogate ("\ud800"):
                // valid JSON, but no string.
                throw Bad(path, "the header holds an escaped string that is not valid UTF-16 (a lone surrogate such as \\ud800)", e);
            }

            long dataStart = 8 + (long)n;
            long dataLength = fileLength - dataStart;
            CheckCoverage(tensors, dataLength, path);
            return new SafeTensorsHeader(tensors, metadata, dataStart, dataLength);
        }
    }

    private static void ReadMetadata(JsonElement element, Dictionary<string, string> metadata, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"\"{MetadataKey}\" is a JSON {element.ValueKind}, not an object of strings");
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw Bad(path, $"\"{MetadataKey}\".\"{entry.Name}\" is a JSON {entry.Value.ValueKind}; metadata values must be strings");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                throw Bad(path, $"\"{MetadataKey}\".\"{entry.Name}\" appears twice");
        }
    }

    private static TensorEntry ReadEntry(string name, JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"tensor \"{name}\" is a JSON {element.ValueKind}, not an object with dtype, shape and data_offsets");
        if (!element.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw Bad(path, $"tensor \"{name}\" has no string \"dtype\"");
        if (!element.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"tensor \"{name}\" has no array \"shape\"");
        if (!element.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
            throw Bad(path, $"tensor \"{name}\" has no \"data_offsets\" array [begin, end]");

        var dims = new long[shape.GetArrayLength()];
        int i = 0;
        foreach (var d in shape.EnumerateArray())
            dims[i++] = NonNegative(d, name, "shape", path);
        long begin = NonNegative(offsets[0], name, "data_offsets", path);
        long end = NonNegative(offsets[1], name, "data_offsets", path);
        if (end < begin)
            throw Bad(path, $"tensor \"{name}\" has data_offsets [{begin}, {end}] that end before they begin");
        return new TensorEntry(name, dtype.GetString()!, dims, begin, end);
    }

    private static long NonNegative(JsonElement value, string name, string field, string path)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long x) || x < 0)
            throw Bad(path, $"tensor \"{name}\" has {field} entry {value.GetRawText()}, not a non-negative integer");
        return x;
    }

    /// <summary>The entries, sorted by offset, must tile [0, dataLength) exactly (the spec forbids holes, and
    /// overlaps would let two tensors alias the same bytes).</summary>
    private static void CheckCoverage(List<TensorEntry> tensors, long dataLength, string path)
    {
        var sorted = tensors.ToArray();
        Array.Sort(sorted, static (x, y) => x.Begin != y.Begin ? x.Begin.CompareTo(y.Begin) : x.End.CompareTo(y.End));
        long expected = 0;
        TensorEntry? previous = null;
        foreach (var t in sorted)
        {
            if (t.Begin < expected)
                throw Bad(path, $"tensor \"{t.Name}\" data_offsets [{t.Begin}, {t.End}] overlap tensor \"{previous!.Name}\" [{previous.Begin}, {previous.End}]");
            if (t.Begin > expected)
                throw Bad(path, $"data bytes [{expected}, {t.Begin}) before tensor \"{t.Name}\" belong to no tensor");
            if (t.End > dataLength)
                throw Bad(path, $"tensor \"{t.Name}\" data_offsets [{t.Begin}, {t.End}] run past the end of the {dataLength}-byte data section (truncated file?)");
            expected = t.End;
            previous = t;
        }
        if (expected != dataLength)
            throw Bad(path, $"the data section is {dataLength} bytes but the tensors cover {expected}");
    }

    /// <summary>Writes <paramref name="content"/> to a temporary file next to <paramref name="path"/>, flushes it to
    /// disk, and renames it over <paramref name="path"/>. On any failure the temporary file is deleted and an
    /// existing file at <paramref name="path"/> is left as it was. Temporaries of the same path left by a killed
    /// process are deleted first (<see cref="TemporaryFiles"/>).</summary>
    public static void WriteAtomically<TContent>(string path, scoped ref TContent content)
        where TContent : IFileContent, allows ref struct
    {
        string target = Path.GetFullPath(path);
        TemporaryFiles.RemoveStale(target);
        string temporary = TemporaryFiles.NewName(target);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                content.WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            TemporaryFiles.Discard(temporary);
            throw;
        }
    }

    /// <summary>The error for a file that is not a valid <paramref name="kind"/> (model file, checkpoint); control
    /// characters the reason quotes from the file (a "\n" in a metadata value) are written as \uXXXX, so the message
    /// stays one line.</summary>
    public static InvalidDataException Bad(string path, string reason, Exception? inner = null, string kind = "model file") =>
        new(string.Create(CultureInfo.InvariantCulture, $"{path} is not a valid {kind}: {OneLine(reason)}"), inner);

    /// <summary>The dtype that stores T: F32 or F64.</summary>
    /// <param name="files">What is being written, for the message ("model files", "checkpoints").</param>
    public static string DTypeOf<T>(string files) =>
        typeof(T) == typeof(float) ? "F32"
        : typeof(T) == typeof(double) ? "F64"
        : throw new NotSupportedException($"{files} store float (F32) or double (F64) parameters, not {typeof(T).Name}");

    private static string OneLine(string text)
    {
        if (!text.Any(char.IsControl)) return text;
        var sb = new StringBuilder(text.Length + 16);
        foreach (char ch in text)
        {
            if (char.IsControl(ch)) sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)ch:X4}");
            else sb.Append(ch);
        }
        return sb.ToString();
    }
}
