using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>The file is plain safetensors: read here with nothing but a JSON parser and byte offsets (and, when
/// python3 is on the PATH, by Python's json and struct modules, plus the safetensors package if installed).</summary>
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

    /// <summary>Reads the file in Python, independently of .NET. Passes trivially where python3 is absent.</summary>
    [Fact]
    public void Save_isReadableByPython_whenPythonIsInstalled()
    {
        string path = _dir.File();
        float[] theta = ModelFiles.Floats(Spec.Layout.Count, seed: 5);
        for (int i = 0; i < theta.Length; i++) theta[i] = (i * 0.25f) - 2f;   // exactly printable
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
            try:
                from safetensors.numpy import load_file
                t = load_file(path)
                assert t['layers.1.weight'].shape == (2, 3)
                print('safetensors ok')
            except ImportError:
                print('safetensors absent')
            """;
        string? output = RunPython(Script, path);
        if (output is null) return;   // no python3 here

        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        double[] values = [.. lines[0].Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture))];
        Assert.Equal(theta.Select(f => (double)f), values);
        Assert.Contains(lines[1], new[] { "safetensors ok", "safetensors absent" });
    }

    private static string? RunPython(string script, string path)
    {
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(path);
        Process? process;
        try
        {
            process = Process.Start(info);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
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
