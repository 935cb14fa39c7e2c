using Backprop.Functional.Tests.Serialization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Interop;

/// <summary>Truncated, corrupt and oversized files are refused with one line that starts with the path, before any
/// allocation their lengths claim.</summary>
public sealed class OnnxCorruptFileTests : IDisposable
{
    private readonly ModelDirectory _dir = new();
    private readonly byte[] _good;

    public OnnxCorruptFileTests()
    {
        string path = _dir.File("good.onnx");
        var spec = new NetworkSpec([new Dense(3, 4, ActivationKind.GELU), new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        OnnxFile.Save(path, spec, ModelFiles.Floats(spec.Layout.Count, 1));
        _good = File.ReadAllBytes(path);
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_ofEveryTruncation_throwsOneLineNamingThePath()
    {
        string path = _dir.File("cut.onnx");
        for (int n = 0; n < _good.Length; n++)
        {
            File.WriteAllBytes(path, _good[..n]);
            var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
            Assert.StartsWith($"{path} is not a valid ONNX model: ", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void Load_ofTruncatedGraph_saysWhereTheBytesRunOut()
    {
        string path = _dir.File("cut.onnx");
        File.WriteAllBytes(path, _good[..(_good.Length - 10)]);
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        Assert.Contains("ModelProto.graph at byte", e.Message, StringComparison.Ordinal);
        Assert.Contains("past the end of the file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ofEmptyFile_saysItHoldsNoGraph()
    {
        string path = _dir.File("empty.onnx");
        File.WriteAllBytes(path, []);
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        Assert.Contains("it holds no graph", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ofSafetensorsModel_isRefused()
    {
        string path = _dir.File("model.safetensors");
        ModelFiles.SaveSmall(path);
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        Assert.StartsWith($"{path} is not a valid ONNX model: ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A graph field claiming 2 GB in a 7-byte file is refused without allocating anything like it.</summary>
    [Fact]
    public void Load_ofHugeClaimedLength_isRefusedBeforeAllocating()
    {
        string path = _dir.File("huge.onnx");
        File.WriteAllBytes(path, [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00]);   // field 7 (graph), length 2³¹ − 1
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("claims 2147483647 bytes", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Load_ofHugeClaimedTensorData_isRefusedBeforeAllocating()
    {
        // An initializer whose raw_data claims 1 GB inside a small file.
        string path = _dir.File("tensor.onnx");
        byte[] tensor = [0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x03];                      // raw_data (9), length 2³⁰ − 1
        byte[] graph = [0x2A, (byte)tensor.Length, .. tensor];                      // initializer (5)
        File.WriteAllBytes(path, [0x3A, (byte)graph.Length, .. graph]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("the protobuf is truncated or corrupt in the field at byte 4 of 10 (While parsing a protocol message, the input ended unexpectedly in the middle of a field)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ofFileLargerThanAnyModel_isRefusedBeforeReading()
    {
        string path = _dir.File("sparse.onnx");
        using (var f = File.Create(path)) f.SetLength(OnnxFile.MaxFileBytes + 1);   // sparse: no disk used
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        Assert.Contains($"more than the {OnnxFile.MaxFileBytes}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ofMissingFile_throwsFileNotFound() =>
        Assert.Throws<FileNotFoundException>(() => OnnxFile.Load(_dir.File("absent.onnx")));

    /// <summary>Any corruption of a few bytes either still loads (a flipped weight is a valid weight) or is refused with
    /// an InvalidDataException naming the path; never another exception, never a partial network.</summary>
    [Property(MaxTest = 300)]
    public Property Load_ofCorruptedBytes_loadsOrThrowsInvalidData(PositiveInt seed)
    {
        var rng = new SeededRandom(seed.Get);
        byte[] bytes = (byte[])_good.Clone();
        int flips = 1 + rng.Next(4);
        for (int i = 0; i < flips; i++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
        string path = _dir.File($"{seed.Get}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            var model = OnnxFile.Load(path);
            return (model.Parameters.Length == model.Spec.Layout.Count).Label("θ does not fit its spec");
        }
        catch (InvalidDataException e)
        {
            return (e.Message.StartsWith(path, StringComparison.Ordinal) && !e.Message.Contains('\n')).Label(e.Message);
        }
        catch (Exception e)
        {
            return false.Label($"{e.GetType().Name}: {e.Message}");
        }
    }
}
