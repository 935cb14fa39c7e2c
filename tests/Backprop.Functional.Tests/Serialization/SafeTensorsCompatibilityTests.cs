using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>The file is plain safetensors: read here with nothing but a JSON parser and byte offsets, by Python's json
/// and struct modules, and by the safetensors package itself where it is installed (each Python test reports a skip,
/// with the reason, where it cannot run).</summary>
public sealed class SafeTensorsCompatibilityTests : IDisposable
{
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly NetworkSpec Spec = NetworkSpec.Mlp([5, 3, 2], ActivationKind.Tanh, ActivationKind.Sigmoid, LossKind.CrossEntropy);

    [Fact]
    public void Save_writesStandardSafetensorsLayout()
    {
        string path = _dir.File();
        float[] theta = ModelFiles.Floats(Spec.Layout.Count, seed: 11);
        ModelFile.Save<float>(path, Spec, theta, new Dictionary<string, string> { ["epochs"] = "10", ["accuracy"] = "0.97" });
        byte[] file = File.ReadAllBytes(path);

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0UL, (8 + n) % 8);
        Assert.Equal((byte)'{', file[8]);
        string headerText = Encoding.UTF8.GetString(file, 8, (int)n);
        Assert.Matches("} *$", headerText);
        using var header = JsonDocument.Parse(headerText);
        var root = header.RootElement;

        var meta = root.GetProperty("__metadata__");
        Assert.Equal("backprop-functional", meta.GetProperty("format").GetString());
        Assert.Equal("5-3:Tanh,3-2:Sigmoid", meta.GetProperty("layers").GetString());
        Assert.Equal("CrossEntropy", meta.GetProperty("loss").GetString());
        Assert.Equal("10", meta.GetProperty("epochs").GetString());
        Assert.All(meta.EnumerateObject(), p => Assert.Equal(JsonValueKind.String, p.Value.ValueKind));

        string[] names = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"];
        int[][] shapes = [[3, 5], [3], [2, 3], [2]];
        Assert.Equal(names, root.EnumerateObject().Select(p => p.Name).Where(p => p != "__metadata__"));
        long expected = 0;
        for (int t = 0; t < names.Length; t++)
        {
            var entry = root.GetProperty(names[t]);
            Assert.Equal("F32", entry.GetProperty("dtype").GetString());
            Assert.Equal(shapes[t], entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
            long begin = entry.GetProperty("data_offsets")[0].GetInt64(), end = entry.GetProperty("data_offsets")[1].GetInt64();
            Assert.Equal(expected, begin);
            Assert.Equal(4L * shapes[t].Aggregate(1, (a, b) => a * b), end - begin);
            expected = end;
        }
        Assert.Equal(file.Length - 8 - (long)n, expected);

        // layers.1.weight [2, 3]: element (1, 2) is θ[Weight(1).Offset + 1·3 + 2], little-endian at its offset.
        var w1 = root.GetProperty("layers.1.weight");
        int at = 8 + (int)n + w1.GetProperty("data_offsets")[0].GetInt32() + (4 * ((1 * 3) + 2));
        Assert.Equal(theta[Spec.Layout.Weight(1).Offset + 5], BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(at)));
    }

    [Fact]
    public void Save_ofDoubleModel_writesF64()
    {
        string path = _dir.File();
        ModelFile.Save<double>(path, Spec, ModelFiles.Doubles(Spec.Layout.Count, seed: 2));
        var (header, data) = ModelFiles.Split(File.ReadAllBytes(path));

        Assert.Equal("F64", (string?)header["layers.0.weight"]!["dtype"]);
        Assert.Equal(8 * Spec.Layout.Count, data.Length);
    }

    /// <summary>Reads the file with Python's json and struct modules, independently of .NET. Skipped, with the reason,
    /// where python3 is absent.</summary>
    [SkippableFact]
    public void Save_isReadableByPythonsJsonAndStruct()
    {
        string path = _dir.File();
        float[] theta = ExactlyPrintable();
        ModelFile.Save<float>(path, Spec, theta);

        const string Script = """
            import json, struct, sys
            path = sys.argv[1]
            with open(path, 'rb') as f:
                raw = f.read()
            n = struct.unpack('<Q', raw[:8])[0]
            header = json.loads(raw[8:8 + n])
            data = raw[8 + n:]
            out = []
            for name in ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']:
                b, e = header[name]['data_offsets']
                out += struct.unpack('<%df' % ((e - b) // 4), data[b:e])
            print(' '.join(repr(x) for x in out))
            """;
        string output = RunPython(Script, path);
        double[] values = [.. output.Trim().Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture))];
        Assert.Equal(theta.Select(f => (double)f), values);
    }

    /// <summary>Reads the file with Hugging Face's own reader, the Python package safetensors (its Rust parser checks
    /// the header, the dtype × shape sizes and that the data offsets tile the buffer). Skipped, with the reason, where
    /// python3, numpy or safetensors is absent: Debian 12 packages no python3-safetensors, so CI reports this test as
    /// skipped (docs/model-files.md says what CI checks instead).</summary>
    [SkippableFact]
    public void Save_isReadableByTheSafetensorsPackage()
    {
        string path = _dir.File();
        float[] theta = ExactlyPrintable();
        ModelFile.Save<float>(path, Spec, theta, new Dictionary<string, string> { ["epochs"] = "10" });

        const string Script = """
            import sys
            try:
                import numpy
                from safetensors import safe_open
            except ImportError as e:
                print('absent: ' + str(e))
                sys.exit(0)
            out = []
            with safe_open(sys.argv[1], framework='numpy') as f:
                meta = f.metadata()
                print(meta['layers'] + ' ' + meta['loss'] + ' ' + meta['epochs'])
                for name in ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']:
                    t = f.get_tensor(name)
                    assert t.dtype == numpy.float32, t.dtype
                    print(name + ' ' + str(list(t.shape)))
                    out += [float(v) for v in t.reshape(-1)]
            print(' '.join(repr(x) for x in out))
            """;
        string output = RunPython(Script, path);
        Skip.If(output.StartsWith("absent: ", StringComparison.Ordinal),
            $"python3 cannot import the safetensors reader ({output.Trim()["absent: ".Length..]}); `pip install safetensors numpy` runs this test");

        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("5-3:Tanh,3-2:Sigmoid CrossEntropy 10", lines[0]);
        Assert.Equal(["layers.0.weight [3, 5]", "layers.0.bias [3]", "layers.1.weight [2, 3]", "layers.1.bias [2]"], lines[1..5]);
        double[] values = [.. lines[5].Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture))];
        Assert.Equal(theta.Select(f => (double)f), values);
    }

    private static float[] ExactlyPrintable()
    {
        float[] theta = new float[Spec.Layout.Count];
        for (int i = 0; i < theta.Length; i++) theta[i] = (i * 0.25f) - 2f;
        return theta;
    }

    /// <summary>Runs <paramref name="script"/> with python3 and returns its output; skips the test where there is no
    /// python3.</summary>
    private static string RunPython(string script, string path)
    {
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(path);
        Process? process = null;
        try
        {
            process = Process.Start(info);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SkipException($"python3 is not on the PATH ({e.Message})");
        }
        using (process)
        {
            string stdout = process!.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"python3 failed: {stderr}");
            return stdout;
        }
    }
}
