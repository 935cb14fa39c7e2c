using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>A model read from a pipe (<c>/dev/stdin</c>, a FIFO), which cannot seek and has no length, loads as
/// from a file, and a bad one is refused naming the pipe.</summary>
public sealed class ModelFilePipeTests : IDisposable
{
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_fromANamedPipe_givesTheSavedModel()
    {
        string path = _dir.File();
        float[] theta = ModelFiles.SaveSmall(path, new Dictionary<string, string> { ["epochs"] = "4" });
        using var pipe = new Fifo(_dir.File("pipe"), File.ReadAllBytes(path));

        var model = ModelFile.Load(pipe.Path);

        Assert.Equal(ModelFiles.Small, model.Spec);
        Assert.Equal(theta, model.Parameters);
        Assert.Equal("4", model.Metadata["epochs"]);
    }

    [Fact]
    public void Load_fromANamedPipe_ofATruncatedFile_throwsNamingThePipe()
    {
        string path = _dir.File();
        ModelFiles.SaveSmall(path);
        byte[] bytes = File.ReadAllBytes(path);
        using var pipe = new Fifo(_dir.File("pipe"), bytes[..^5]);

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(pipe.Path));

        Assert.StartsWith(pipe.Path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_fromANamedPipe_ofAHeaderLengthPastTheLimit_throwsWithoutReadingIt()
    {
        byte[] bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes, 1L << 40);
        using var pipe = new Fifo(_dir.File("pipe"), bytes);

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(pipe.Path));

        Assert.StartsWith(pipe.Path, e.Message, StringComparison.Ordinal);
        Assert.Contains("header length", e.Message, StringComparison.Ordinal);
    }
}
