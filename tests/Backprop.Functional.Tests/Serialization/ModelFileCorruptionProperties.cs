using System.Buffers.Binary;
using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>Damaged files are refused with <see cref="InvalidDataException"/>, never with another exception type.</summary>
public sealed class ModelFileCorruptionProperties : IDisposable
{
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static Arbitrary<NetCase> NetCase() => ModelFiles.Specs();

    private byte[] ValidFile(NetCase c)
    {
        string path = _dir.NewFile();
        ModelFile.Save<float>(path, c.Spec, ModelFiles.Floats(c.Spec.Layout.Count, c.Seed),
            new Dictionary<string, string> { ["epochs"] = "3" });
        return File.ReadAllBytes(path);
    }

    /// <summary>Loads <paramref name="bytes"/>; returns null on success (checked for consistency) or the exception.</summary>
    private Exception? TryLoad(byte[] bytes)
    {
        string path = _dir.NewFile();
        File.WriteAllBytes(path, bytes);
        try
        {
            var model = ModelFile.Load(path);
            Assert.Equal(model.Spec.Layout.Count, model.Parameters.Length);
            Assert.All(model.Parameters, p => Assert.True(float.IsFinite(p)));
            using var net = model.ToNetwork();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Property(MaxTest = 200, Arbitrary = [typeof(ModelFileCorruptionProperties)])]
    public Property Load_ofTruncatedFile_throwsInvalidData(NetCase c, NonNegativeInt cut)
    {
        byte[] file = ValidFile(c);
        int length = cut.Get % file.Length;   // 0 .. file.Length − 1

        var e = TryLoad(file[..length]);

        return (e is InvalidDataException).Label($"cut at {length} of {file.Length}: {e?.GetType().Name ?? "loaded"}: {e?.Message}");
    }

    [Fact]
    public void Load_ofFileCutAtEveryLength_throwsInvalidData()
    {
        string path = _dir.NewFile();
        ModelFiles.SaveSmall(path);
        byte[] file = File.ReadAllBytes(path);

        for (int length = 0; length < file.Length; length++)
        {
            var e = TryLoad(file[..length]);
            Assert.True(e is InvalidDataException, $"cut at {length}: {e?.GetType().Name ?? "loaded"}: {e?.Message}");
            Assert.Contains(".safetensors", e!.Message, StringComparison.Ordinal);
        }
    }

    [Property(MaxTest = 300, Arbitrary = [typeof(ModelFileCorruptionProperties)])]
    public Property Load_ofFileWithHeaderByteFlipped_loadsConsistentModelOrThrowsInvalidData(NetCase c, NonNegativeInt at, byte mask)
    {
        byte[] file = ValidFile(c);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        int i = at.Get % headerEnd;
        file[i] ^= mask == 0 ? (byte)1 : mask;

        var e = TryLoad(file);

        return (e is null or InvalidDataException).Label($"byte {i} ^ {mask}: {e}");
    }

    [Fact]
    public void Load_ofFileWithAnyHeaderBitFlipped_loadsConsistentModelOrThrowsInvalidData()
    {
        string path = _dir.NewFile();
        ModelFiles.SaveSmall(path, new Dictionary<string, string> { ["epochs"] = "12" });
        byte[] file = File.ReadAllBytes(path);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(file);

        for (int i = 0; i < headerEnd; i++)
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] damaged = (byte[])file.Clone();
                damaged[i] ^= (byte)(1 << bit);
                var e = TryLoad(damaged);
                Assert.True(e is null or InvalidDataException, $"byte {i} bit {bit}: {e}");
            }
    }

    [Property(MaxTest = 200, Arbitrary = [typeof(ModelFileCorruptionProperties)])]
    public Property Load_ofFileWithDataByteFlipped_loadsConsistentModelOrThrowsInvalidData(NetCase c, NonNegativeInt at, byte mask)
    {
        byte[] file = ValidFile(c);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        int i = headerEnd + (at.Get % (file.Length - headerEnd));
        file[i] ^= mask == 0 ? (byte)0x80 : mask;

        var e = TryLoad(file);

        return (e is null or InvalidDataException).Label($"byte {i} ^ {mask}: {e}");
    }
}
