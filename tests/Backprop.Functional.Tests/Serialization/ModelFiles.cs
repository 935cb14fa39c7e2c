using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>A scratch directory for model files, deleted on dispose.</summary>
public sealed class ModelDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("backprop-modelfile-tests-").FullName;

    public string File(string name = "model.safetensors") => System.IO.Path.Combine(Path, name);

    /// <summary>A fresh, unique file name in the directory.</summary>
    public string NewFile() => File($"{Guid.NewGuid():N}.safetensors");

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Building, taking apart and reassembling model files in tests.</summary>
public static class ModelFiles
{
    public static readonly NetworkSpec Small = new(
        [new Dense(3, 4, ActivationKind.ReLU), new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);

    /// <summary>Random finite parameters from raw bit patterns (so subnormals, −0 and extreme exponents occur).</summary>
    public static float[] Floats(int n, int seed)
    {
        var rng = new SeededRandom(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            float f = BitConverter.Int32BitsToSingle((int)rng.NextUInt64());
            x[i] = float.IsFinite(f) ? f : (float)rng.NextGaussian();
        }
        return x;
    }

    /// <inheritdoc cref="Floats"/>
    public static double[] Doubles(int n, int seed)
    {
        var rng = new SeededRandom(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            double d = BitConverter.Int64BitsToDouble((long)rng.NextUInt64());
            x[i] = double.IsFinite(d) ? d : rng.NextGaussian();
        }
        return x;
    }

    /// <summary>Saves <see cref="Small"/> with seeded float parameters; returns them.</summary>
    public static float[] SaveSmall(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        float[] theta = Floats(Small.Layout.Count, seed: 7);
        ModelFile.Save<float>(path, Small, theta, metadata);
        return theta;
    }

    /// <summary>Splits a file into (header JSON, data buffer).</summary>
    public static (JsonObject Header, byte[] Data) Split(byte[] file)
    {
        int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
        var header = (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString(file, 8, n))!;
        return (header, file[(8 + n)..]);
    }

    /// <summary>Reassembles a file from raw header text and data, with a correct length prefix.</summary>
    public static byte[] Join(string header, byte[] data)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        data.CopyTo(file, 8 + h.Length);
        return file;
    }

    /// <summary>Rewrites the file at <paramref name="path"/> after letting <paramref name="edit"/> change its header
    /// (and, through the returned array, its data).</summary>
    public static void Edit(string path, Func<JsonObject, byte[], byte[]> edit)
    {
        var (header, data) = Split(System.IO.File.ReadAllBytes(path));
        data = edit(header, data);
        System.IO.File.WriteAllBytes(path, Join(header.ToJsonString(), data));
    }

    public static void EditHeader(string path, Action<JsonObject> edit) => Edit(path, (h, d) => { edit(h); return d; });

    public static JsonObject Meta(JsonObject header) => (JsonObject)header["__metadata__"]!;

    /// <summary>Random network specs for model files: depth 1–3, widths 1–20, every fitting activation and loss.</summary>
    public static Arbitrary<NetCase> Specs() => Arb.From(NetArbitraries.Gen(maxDepth: 3, maxWidth: 20, maxBatch: 1), NetArbitraries.Shrink);
}
