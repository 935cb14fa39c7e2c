using Xunit;

namespace Backprop.Functional.Tests.Fuzzing;

/// <summary>Inputs the fuzzers found, kept exactly (base64 of the file as the failure message showed it), each
/// with the outcome it must have now. The comment names the fuzz run that found it.</summary>
public sealed class FuzzFindingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("backprop-fuzz-findings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string base64, string name = Fuzzer.FileStem + ".safetensors")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, Convert.FromBase64String(base64));
        return path;
    }

    private static void AssertOneLineNamingFile(InvalidDataException e, string path)
    {
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
    }

    /// <summary>model, seed 20261126, case 466: <c>"format":"\ud800"</c> (a lone surrogate escape) made
    /// JsonElement.GetString throw InvalidOperationException out of ModelFile.Load.</summary>
    [Fact]
    public void Model_withLoneSurrogateInMetadataValue_throwsInvalidData()
    {
        string path = Write("2gAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJcdWQ4MDAiLCJsYXllcnMiOiIyLTE6U2lnbW9pZCIsImxvc3MiOiJDcm9zc0VudHJvcHkifSwibGF5ZXJzLjAud2VpZ2h0Ijp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOlsxLDJdLCJkYXRhX29mZnNldHMiOlswLDE2XX0sImxheWVycy4wLmJpYXMiOnsiZHR5cGUiOiJGNjQiLCJzaGFwZSI6WzFdLCJkYXRhX29mZnNldHMiOlsxNiwyNF19fWF3xG2KnYizaq7wKOWYA2pehYrk7ESDBA==");

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load<double>(path));

        AssertOneLineNamingFile(e, path);
        Assert.Contains("surrogate", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The same cause in a tensor name and in a dtype (JsonProperty.Name and GetString unescape alike).</summary>
    [Theory]
    [InlineData("{\"__metadata__\":{\"format\":\"backprop-functional\",\"layers\":\"1-1:Identity\",\"loss\":\"Quadratic\"},\"layers.0.weight\\udc00\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]},\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}")]
    [InlineData("{\"__metadata__\":{\"format\":\"backprop-functional\",\"layers\":\"1-1:Identity\",\"loss\":\"Quadratic\"},\"layers.0.weight\":{\"dtype\":\"F3\\ud8002\",\"shape\":[1,1],\"data_offsets\":[0,4]},\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}")]
    public void Model_withLoneSurrogateInTensorNameOrDType_throwsInvalidData(string header)
    {
        string path = Path.Combine(_dir, Fuzzer.FileStem + ".safetensors");
        File.WriteAllBytes(path, Serialization.ModelFiles.Join(header, new byte[8]));

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path));

        AssertOneLineNamingFile(e, path);
    }

    /// <summary>model, seed 20261126, case 832: <c>"format":"backprop-functional\n"</c> was echoed with its line
    /// break, so the one-line error became two lines.</summary>
    [Fact]
    public void Model_withLineBreakInMetadataValue_throwsOneLineInvalidData()
    {
        string path = Write("7AAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJiYWNrcHJvcC1mdW5jdGlvbmFsXG4iLCJsYXllcnMiOiIyLTE6U2lnbW9pZCIsImxvc3MiOiJDcm9zc0VudHJvcHkifSwibGF5ZXJzLjAud2VpZ2h0Ijp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOlsxLDJdLCJkYXRhX29mZnNldHMiOlswLDE2XX0sImxheWVycy4wLmJpYXMiOnsiZHR5cGUiOiJGNjQiLCJzaGFwZSI6WzFdLCJkYXRhX29mZnNldHMiOlsxNiwyNF19fSAgIGF3xG2KnYizaq7wKOWYA2pehYrk7ESDBA==");

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load<double>(path));

        AssertOneLineNamingFile(e, path);
        Assert.Contains("format is \"backprop-functional\\u000A\"", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The fuzz harness's own pieces: the per-case generator is a pure function of (seed, format, index).</summary>
    [Fact]
    public void CaseRandom_isDeterministicPerCase()
    {
        var a = Fuzzer.CaseRandom(5, "csv", 17);
        var b = Fuzzer.CaseRandom(5, "csv", 17);
        var c = Fuzzer.CaseRandom(5, "idx", 17);

        Assert.Equal(a.NextUInt64(), b.NextUInt64());
        Assert.NotEqual(Fuzzer.CaseRandom(5, "csv", 17).NextUInt64(), c.NextUInt64());
        Assert.Equal("a\\nb\\u0000", Fuzzer.Escape("a\nb\0"));
    }
}
