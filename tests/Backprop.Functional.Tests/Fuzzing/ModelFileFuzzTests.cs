using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Backprop.Functional.Tests.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Fuzzing;

/// <summary>Mutated safetensors model files through <see cref="ModelFile.Load{T}(string)"/> as float and as double.</summary>
public sealed class ModelFileFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void ModelFile_mutatedFiles_loadOrThrowInvalidData()
    {
        var report = Fuzzer.Run(new ModelFileTarget(), output);

        Assert.True(report.Failures.Count == 0, report.FailureMessage);
    }
}

internal sealed class ModelFileTarget : IFuzzTarget
{
    private static readonly string[] DTypes = ["F16", "BF16", "I32", "F32", "F64", "", "f32", "U8", "F32 ", "F64\u0000"];

    private static readonly string[] HugeNumbers =
    [
        "2147483648", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1e300", "1e400",
        "-1", "-0", "1.0", "1.5", "\"3\"", "null", "[]", "0", "1E1", "-9223372036854775808", "100000000000000000000000000000",
    ];

    private static readonly string[] Widths = ["0", "-1", "3000000", "2147483647", "2147483648", "99999999999999999999", "", "+3", " 3", "3 ", "0003", "1e3", "٣", "46341", "65536"];

    private static readonly string[] Activations =
        [.. Enum.GetNames<ActivationKind>(), "relu", "Softmaxx", "", "ReLU:ReLU", "0", "Identity ", "Sigmoid,Tanh"];

    private static readonly string[] Losses = [.. Enum.GetNames<LossKind>(), "quadratic", "", "0", "Quadratic,CrossEntropy", "SoftmaxCrossEntropy "];

    private readonly byte[][] _seeds;

    public ModelFileTarget()
    {
        var dir = Directory.CreateTempSubdirectory("backprop-fuzz-seeds-");
        try
        {
            string path = Path.Combine(dir.FullName, "seed.safetensors");
            var seeds = new List<byte[]>();
            ModelFile.Save<float>(path, ModelFiles.Small, ModelFiles.Floats(ModelFiles.Small.Layout.Count, 1), new Dictionary<string, string> { ["epochs"] = "3" });
            seeds.Add(File.ReadAllBytes(path));
            var binary = NetworkSpec.Mlp([2, 1], ActivationKind.Identity, ActivationKind.Sigmoid, LossKind.CrossEntropy);
            ModelFile.Save<double>(path, binary, ModelFiles.Doubles(binary.Layout.Count, 2));
            seeds.Add(File.ReadAllBytes(path));
            var deep = NetworkSpec.Mlp([4, 3, 3, 2], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);
            ModelFile.Save<float>(path, deep, ModelFiles.Floats(deep.Layout.Count, 3), new Dictionary<string, string> { ["note"] = "ü \"q\"", ["z"] = "" });
            seeds.Add(File.ReadAllBytes(path));
            var tiny = NetworkSpec.Mlp([1, 1], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic);
            ModelFile.Save<double>(path, tiny, [0.5, -2.0], new Dictionary<string, string> { ["accuracy"] = "0.97" });
            seeds.Add(File.ReadAllBytes(path));
            _seeds = [.. seeds];
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    public string Format => "model";

    public FuzzCase Make(ref SeededRandom rng, int index)
    {
        int s = rng.Next(_seeds.Length), other = rng.Next(_seeds.Length);
        var recipe = new StringBuilder();
        Mutator.Note(recipe, $"seed {s}");
        byte[] seed = _seeds[s];
        byte[] bytes = rng.Next(10) switch
        {
            < 5 => JsonEdit(seed, ref rng, recipe),
            5 => PrefixEdit(seed, ref rng, recipe),
            6 => DataEdit(seed, ref rng, recipe),
            _ => seed,
        };
        if (bytes == seed || rng.Next(4) == 0) bytes = Mutator.Havoc(bytes, _seeds[other], ref rng, recipe);
        int kind = rng.Next(2);
        return new FuzzCase(bytes, kind == 0 ? "Load<float>" : "Load<double>", recipe.ToString()) { Kind = kind, Argument = s };
    }

    private static byte[] PrefixEdit(byte[] seed, ref SeededRandom rng, StringBuilder recipe)
    {
        var b = (byte[])seed.Clone();
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(b);
        ulong value = rng.Next(3) switch
        {
            0 => Mutator.Interesting[rng.Next(Mutator.Interesting.Length)],
            1 => unchecked(n + (ulong)(rng.Next(17) - 8)),
            _ => (ulong)b.Length - 8 + (ulong)rng.Next(3) - 1,
        };
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Mutator.Note(recipe, $"header length = {value}");
        return b;
    }

    private static byte[] DataEdit(byte[] seed, ref SeededRandom rng, StringBuilder recipe)
    {
        var b = (byte[])seed.Clone();
        int start = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(b);
        int width = rng.Next(2) == 0 ? 4 : 8;
        int slots = (b.Length - start) / width;
        if (slots == 0) return b;
        int at = start + (width * rng.Next(slots));
        ulong[] patterns = width == 4
            ? [0x7FC00000, 0x7F800000, 0xFF800000, 0x00000001, 0x80000000, 0x7F7FFFFF, 0xFFFFFFFF]
            : [0x7FF8000000000000, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FEFFFFFFFFFFFFF, 0x47F0000000000000, 0x0000000000000001, 0xFFFFFFFFFFFFFFFF];
        ulong pattern = patterns[rng.Next(patterns.Length)];
        Mutator.WriteInteger(b.AsSpan(at, width), pattern, bigEndian: false);
        Mutator.Note(recipe, $"data {width}-byte {pattern:X}@{at}");
        return b;
    }

    /// <summary>Edits of the JSON header, reassembled with a correct length prefix. Values that JsonNode cannot
    /// hold (duplicate keys, 1e400, deep nesting) go in as marker strings replaced by raw text after serialisation.</summary>
    private static byte[] JsonEdit(byte[] seed, ref SeededRandom rng, StringBuilder recipe)
    {
        var (header, data) = ModelFiles.Split(seed);
        var raw = new List<(string Marker, string Text)>();
        string Raw(string text)
        {
            string marker = $"@@RAW{raw.Count}@@";
            raw.Add(("\"" + marker + "\"", text));
            return marker;
        }

        var meta = (JsonObject)header["__metadata__"]!;
        string[] tensors = [.. header.Select(p => p.Key).Where(k => k != "__metadata__")];
        string name = tensors[rng.Next(tensors.Length)];
        var entry = (JsonObject)header[name]!;
        int edits = 1 + rng.Next(rng.Next(3) == 0 ? 4 : 1);
        for (int e = 0; e < edits; e++)
        {
            switch (rng.Next(12))
            {
                case 0:
                {
                    int pick = rng.Next(DTypes.Length + 3);
                    entry["dtype"] = pick < DTypes.Length ? DTypes[pick] : Raw(pick == DTypes.Length ? "123" : pick == DTypes.Length + 1 ? "null" : "[\"F32\"]");
                    Mutator.Note(recipe, $"{name}.dtype = {Fuzzer.Escape(entry["dtype"]!.ToJsonString())}");
                    break;
                }
                case 1:
                {
                    if (entry["shape"] is not JsonArray shape) break;
                    int op = rng.Next(5);
                    if (op == 0 && shape.Count > 0) shape.RemoveAt(shape.Count - 1);
                    else if (op == 1) shape.Add(rng.Next(3));
                    else if (op == 2 && shape.Count > 0) shape[rng.Next(shape.Count)] = Raw(HugeNumbers[rng.Next(HugeNumbers.Length)]);
                    else if (op == 3 && shape.Count == 2 && TryLong(shape[0], out long rows) && TryLong(shape[1], out long columns)) entry["shape"] = new JsonArray(rows * columns);
                    else entry["shape"] = new JsonArray([.. shape.Reverse().Select(x => x?.DeepClone())]);
                    Mutator.Note(recipe, $"{name}.shape edit {op}");
                    break;
                }
                case 2:
                {
                    if (entry["data_offsets"] is not JsonArray { Count: 2 } offsets || !TryLong(offsets[0], out long begin) || !TryLong(offsets[1], out long end)) break;
                    int op = rng.Next(6);
                    if (op == 0)
                    {
                        long shift = rng.Next(17) - 8;
                        entry["data_offsets"] = new JsonArray(begin + shift, end + (rng.Next(2) == 0 ? shift : 0));
                    }
                    else if (op == 1) entry["data_offsets"] = new JsonArray(end, begin);
                    else if (op == 2) offsets[rng.Next(2)] = Raw(HugeNumbers[rng.Next(HugeNumbers.Length)]);
                    else if (op == 3) offsets.Add(end);
                    else if (op == 4) offsets.RemoveAt(rng.Next(2));
                    else
                    {
                        entry["data_offsets"] = header[tensors[rng.Next(tensors.Length)]]?["data_offsets"]?.DeepClone();
                    }
                    Mutator.Note(recipe, $"{name}.data_offsets edit {op}");
                    break;
                }
                case 3:
                {
                    int op = rng.Next(3);
                    if (op == 0) header.Remove(name);
                    else if (op == 1)
                    {
                        string[] renames = ["layers.00.weight", name + " ", "Layers.0.weight", "layers.9.weight", "layers.-1.bias", "layers.0.bias", ""];
                        string to = renames[rng.Next(renames.Length)];
                        if (!header.ContainsKey(to))
                        {
                            header.Remove(name);
                            header[to] = entry;
                        }
                        Mutator.Note(recipe, $"rename {name} to \"{to}\"");
                    }
                    else
                    {
                        long end = data.Length;
                        int extra = 4 * rng.Next(3);
                        header["extra"] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(extra / 4), ["data_offsets"] = new JsonArray(end, end + extra) };
                        data = [.. data, .. new byte[extra]];
                    }
                    Mutator.Note(recipe, $"tensor {name} op {op}");
                    return Finish(header, data, raw, ref rng, recipe);
                }
                case 4:
                {
                    // Duplicate keys: a tensor, __metadata__, or a metadata entry.
                    int op = rng.Next(3);
                    if (op == 0) header[Raw("\"" + name + "\"")] = entry.DeepClone();
                    else if (op == 1) header[Raw("\"__metadata__\"")] = meta.DeepClone();
                    else
                    {
                        string[] keys = ["layers", "format", "loss", "epochs"];
                        string key = keys[rng.Next(keys.Length)];
                        meta[Raw("\"" + key + "\"")] = meta[key]?.DeepClone() ?? "x";
                    }
                    Mutator.Note(recipe, $"duplicate key op {op}");
                    return Finish(header, data, raw, ref rng, recipe);
                }
                case 5:
                case 6:
                {
                    if (meta["layers"] is JsonValue value && value.TryGetValue(out string? layers)) meta["layers"] = EditLayers(layers, ref rng, recipe);
                    break;
                }
                case 7:
                {
                    int op = rng.Next(4);
                    string[] keys = ["layers", "format", "loss", "epochs", "note"];
                    string key = keys[rng.Next(keys.Length)];
                    if (op == 0) meta["loss"] = Losses[rng.Next(Losses.Length)];
                    else if (op == 1) meta["format"] = rng.Next(2) == 0 ? "Backprop-Functional" : "backprop-functional\n";
                    else if (op == 2) meta.Remove(key);
                    else meta[key] = Raw(new[] { "1", "null", "{}", "[]", "true", "\"\\ud800\"", "\"\\u0000\"" }[rng.Next(7)]);
                    Mutator.Note(recipe, $"metadata op {op} on {key}");
                    break;
                }
                case 8:
                {
                    int depth = 1 + rng.Next(rng.Next(2) == 0 ? 10 : 300);
                    bool arrays = rng.Next(2) == 0;
                    string nested = arrays
                        ? new string('[', depth) + new string(']', depth)
                        : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
                    int where = rng.Next(4);
                    if (where == 0) entry["dtype"] = Raw(nested);
                    else if (where == 1) entry["shape"] = Raw(nested);
                    else if (where == 2) meta["layers"] = Raw(nested);
                    else header["nest"] = Raw(nested);
                    Mutator.Note(recipe, $"nesting depth {depth} ({(arrays ? "arrays" : "objects")}) at {where}");
                    break;
                }
                case 9:
                {
                    int count = 1 + rng.Next(2000);
                    bool longValue = rng.Next(2) == 0;
                    for (int i = 0; i < (longValue ? 1 : count); i++)
                        meta[$"k{i}"] = longValue ? new string('v', count * 64) : "v";
                    Mutator.Note(recipe, longValue ? $"metadata value of {count * 64} chars" : $"{count} metadata entries");
                    break;
                }
                case 10:
                {
                    entry[rng.Next(2) == 0 ? "unknown" : "dtype "] = Raw(HugeNumbers[rng.Next(HugeNumbers.Length)]);
                    Mutator.Note(recipe, $"{name} extra field");
                    break;
                }
                default:
                {
                    // Valid reshuffles that must still load: indented JSON, or a reordered header.
                    Mutator.Note(recipe, "indented header");
                    return Assemble(header.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), data, raw);
                }
            }
        }
        return Finish(header, data, raw, ref rng, recipe);
    }

    private static bool TryLong(JsonNode? node, out long value)
    {
        value = 0;
        return node is JsonValue v && v.TryGetValue(out value);
    }

    private static byte[] Finish(JsonObject header, byte[] data, List<(string Marker, string Text)> raw, ref SeededRandom rng, StringBuilder recipe)
    {
        string text = header.ToJsonString();
        int pad = rng.Next(4);
        if (pad == 1) text += "   ";
        else if (pad == 2)
        {
            string[] tails = ["\u0000", " x", "}", "\uFEFF", "\n"];
            string tail = tails[rng.Next(tails.Length)];
            text = rng.Next(2) == 0 ? text + tail : tail + text;
            Mutator.Note(recipe, $"header text + \"{Fuzzer.Escape(tail)}\"");
        }
        return Assemble(text, data, raw);
    }

    private static byte[] Assemble(string text, byte[] data, List<(string Marker, string Text)> raw)
    {
        foreach (var (marker, value) in raw) text = text.Replace(marker, value, StringComparison.Ordinal);
        return ModelFiles.Join(text, data);
    }

    private static string EditLayers(string layers, ref SeededRandom rng, StringBuilder recipe)
    {
        var parts = layers.Split(',').ToList();
        int l = rng.Next(parts.Count);
        int op = rng.Next(7);
        switch (op)
        {
            case 0:
            {
                string part = parts[l];
                int dash = part.IndexOf('-', StringComparison.Ordinal), colon = part.IndexOf(':', StringComparison.Ordinal);
                string width = Widths[rng.Next(Widths.Length)];
                parts[l] = dash < 0 || colon <= dash ? width + part
                    : rng.Next(2) == 0 ? width + part[dash..] : part[..(dash + 1)] + width + part[colon..];
                break;
            }
            case 1:
                parts[l] = parts[l][..(parts[l].IndexOf(':', StringComparison.Ordinal) + 1)] + Activations[rng.Next(Activations.Length)];
                break;
            case 2:
            {
                string last = parts[^1];
                int dash = last.IndexOf('-', StringComparison.Ordinal), colon = last.IndexOf(':', StringComparison.Ordinal);
                string outputs = dash >= 0 && colon > dash ? last[(dash + 1)..colon] : "1";
                parts.Add($"{outputs}-{1 + rng.Next(5)}:{Activations[rng.Next(6)]}");
                break;
            }
            case 3:
                parts.RemoveAt(l);
                break;
            case 4:
                parts.Insert(l, parts[l]);
                break;
            case 5:
                return Note(string.Join(new[] { ";", ", ", ",,", " " }[rng.Next(4)], parts) + (rng.Next(2) == 0 ? "," : ""), recipe);
            default:
            {
                int n = 2 + rng.Next(5000);
                string chain = string.Join(',', Enumerable.Repeat("1-1:Identity", n));
                return Note(chain, recipe, $"layers = 1-1:Identity ×{n}");
            }
        }
        return Note(string.Join(',', parts), recipe);
    }

    private static string Note(string layers, StringBuilder recipe, string? what = null)
    {
        Mutator.Note(recipe, what ?? $"layers = \"{Fuzzer.Escape(layers)}\"");
        return layers;
    }

    public Func<long> Prepare(FuzzCase c, string directory)
    {
        string path = Path.Combine(directory, Fuzzer.FileStem + ".safetensors");
        File.WriteAllBytes(path, c.Bytes);
        return c.Kind == 0 ? () => Check(ModelFile.Load<float>(path)) : () => Check(ModelFile.Load<double>(path));
    }

    private static long Check<T>(LoadedModel<T> model) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        bool consistent = model.Parameters.Length == model.Spec.Layout.Count && model.Parameters.All(T.IsFinite)
            && !model.Metadata.Keys.Any(k => ModelFile.ReservedMetadataKeys.Contains(k));
        if (!consistent) throw new InvalidOperationException("inconsistent loaded value: parameters do not fit the layout, are not finite, or reserved metadata leaked");
        return (long)model.Parameters.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    }

    public string? KnownAfterRun(FuzzCase c, Exception e) => null;
}
