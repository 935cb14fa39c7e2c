using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>Save validates before it writes, and writes atomically: a failed save leaves an existing file
/// byte-identical and no temporary file behind.</summary>
public sealed class ModelFileSaveTests : IDisposable
{
    private readonly ModelDirectory _dir = new();
    private readonly string _path;
    private readonly byte[] _original;

    public ModelFileSaveTests()
    {
        _path = _dir.File();
        ModelFiles.SaveSmall(_path, new Dictionary<string, string> { ["epochs"] = "1" });
        _original = File.ReadAllBytes(_path);
    }

    public void Dispose() => _dir.Dispose();

    private void AssertUntouched()
    {
        Assert.Equal(_original, File.ReadAllBytes(_path));
        Assert.Equal([_path], Directory.GetFileSystemEntries(_dir.Path).Where(p => !Directory.Exists(p)));
    }

    [Fact]
    public void Save_ThrowsForMismatchedThetaLength_andLeavesFileUntouched()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            ModelFile.Save<float>(_path, ModelFiles.Small, new float[ModelFiles.Small.Layout.Count - 1]));

        Assert.Contains("25", e.Message, StringComparison.Ordinal);
        Assert.Contains("26", e.Message, StringComparison.Ordinal);
        AssertUntouched();
    }

    [Fact]
    public void Save_ThrowsForNaNParameter_namingTensorAndIndex()
    {
        var theta = new double[ModelFiles.Small.Layout.Count];
        theta[13] = double.NaN;   // layers.0.bias[1]

        var e = Assert.Throws<ArgumentException>(() => ModelFile.Save<double>(_path, ModelFiles.Small, theta));

        Assert.Contains("layers.0.bias", e.Message, StringComparison.Ordinal);
        Assert.Contains("index 1", e.Message, StringComparison.Ordinal);
        AssertUntouched();
    }

    [Theory]
    [InlineData("format")]
    [InlineData("layers")]
    [InlineData("loss")]
    public void Save_ThrowsForReservedMetadataKey(string key)
    {
        var e = Assert.Throws<ArgumentException>(() => ModelFiles.SaveSmall(_path, new Dictionary<string, string> { [key] = "x" }));

        Assert.Contains(key, e.Message, StringComparison.Ordinal);
        AssertUntouched();
    }

    [Fact]
    public void Save_ThrowsForHalf_notSupported() =>
        Assert.Throws<NotSupportedException>(() =>
            ModelFile.Save<Half>(_path, ModelFiles.Small, new Half[ModelFiles.Small.Layout.Count]));

    [Fact]
    public void Save_intoMissingDirectory_throwsAndLeavesNothing()
    {
        string missing = Path.Combine(_dir.Path, "no-such-dir", "model.safetensors");

        Assert.Throws<DirectoryNotFoundException>(() => ModelFiles.SaveSmall(missing));

        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "no-such-dir")));
        AssertUntouched();
    }

    [Fact]
    public void Save_whenRenameFails_deletesTemporaryFile()
    {
        string target = Path.Combine(_dir.Path, "a-directory");
        Directory.CreateDirectory(target);   // the rename onto a directory fails after the temporary file is complete

        Assert.ThrowsAny<IOException>(() => ModelFiles.SaveSmall(target));

        Assert.True(Directory.Exists(target));
        Assert.Empty(Directory.GetFileSystemEntries(target));
        AssertUntouched();
    }

    [Fact]
    public void Save_overExistingFile_replacesIt()
    {
        var theta = new float[ModelFiles.Small.Layout.Count];
        theta[0] = 42f;

        ModelFile.Save<float>(_path, ModelFiles.Small, theta);

        Assert.Equal(42f, ModelFile.Load(_path).Parameters[0]);
        Assert.Empty(ModelFile.Load(_path).Metadata);
        Assert.Single(Directory.GetFiles(_dir.Path));
    }

    private struct FailingContent(int bytesBeforeFailure) : IFileContent
    {
        public readonly void WriteTo(Stream stream)
        {
            stream.Write(new byte[bytesBeforeFailure]);
            stream.Flush();
            throw new IOException("simulated: disk full");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(100_000)]
    public void WriteAtomically_whenWriteFailsMidway_leavesOldFileAndNoTemporary(int bytesBeforeFailure)
    {
        var content = new FailingContent(bytesBeforeFailure);

        var e = Assert.Throws<IOException>(() => SafeTensors.WriteAtomically(_path, ref content));

        Assert.Equal("simulated: disk full", e.Message);
        AssertUntouched();
    }
}
