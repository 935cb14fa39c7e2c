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

    /// <summary>model, seed 20261126 with the message length checked, cases like 1419: a layer list of thousands of
    /// layers that do not fit the loss was quoted whole (64 K characters). The input here is the same shape, smaller.</summary>
    [Fact]
    public void Model_withHugeLayerList_throwsShortInvalidData()
    {
        string layers = string.Join(',', Enumerable.Repeat("1-1:Identity", 5000));
        string header = $"{{\"__metadata__\":{{\"format\":\"backprop-functional\",\"layers\":\"{layers}\",\"loss\":\"CrossEntropy\"}}}}";
        string path = Path.Combine(_dir, Fuzzer.FileStem + ".safetensors");
        File.WriteAllBytes(path, Serialization.ModelFiles.Join(header, []));

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path));

        AssertOneLineNamingFile(e, path);
        Assert.InRange(e.Message.Length, 1, Fuzzer.MaxMessage);
    }

    /// <summary>model, seed 1, case 99 (indented header, cut and spliced): System.Text.Json's "invalid literal" message
    /// quotes the rest of the header, 1033 characters here and up to the header's length in general.</summary>
    [Fact]
    public void Model_withInvalidJsonLiteral_throwsShortInvalidData()
    {
        string path = Write(
            "nQIAAAAAAAB7CiAgIl9fbWV0YWRhdGFfXyI6IHsKICAgICJmb3JtYXQiOiB0YmFja3Byb3AtZnVuY3Rpb25hbCIsCiAgICAibGF5ZXJzIjogIjMtNDpSZUxVLDQtMjpTb2Z0bWF4IiwKICAgICJsb3NzIjogIlNvZnRtYXhDcm9zc0VudHJvcHkiLAogICAgImVwb2NocyI6ICIzIgogIH0sCiAgImxheWVycy4wLndlaWdodCI6IHsKICAgICJkdHlwZSI6ICJGMzIiLAogICAgInNoYXBlIjogWwogICAgICA0LAogICAgICAzCiAgICBdLAogICAgImRhdGFfb2Zmc2V0cyI6IFsKICAgICAgMCwKICAgICAgNDgKICAgIF0KICB9LAogICJsYXllcnMuMC5iaWFzIjogewogICAgImR0eXBlIjogIkYzMiIsCiAgICAic2hhcGUiOiBbCiAgICAgIDQKICAgIF0sCiAgICAiZGF0YV9vZmZzZXRzIjogWwogICAgICA0OCwKICAgICAgNjQKICAgIF0KICB9LAogICJsYXllcnMuMS53ZWlnaHQiOiB7CiAgICAiZHR5cGUiOiAiRjMyIiwKICAgICJzaGFwZSI6IFsKICAgICAgMiwKICAgICAgNAogICAgXSwKICAgICJkYXRhX29mZnNldHMiOiBbCiAgICAgIDY0LAogICAgICA5NgogICAgXQogIH0sCiAgMTA0CiAgICBdUXVhZHJhdGljIiwibm90ZSI6Ilx1MDBGQyBcdTAwMjJxXHUwMDIyIiwieiI6IiJ9LCJsYXllcnMuMC53ZWlnaHQiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzMsNF0sImRhdGFfb2Zmc2V0cyI6WzAsNDhdfSwibGF5ZXJzLjAuYmlhcyI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzQ4LDYwXX0sImxheWVycy4xLndlaWdodCI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMywzXSwiZGF0YV9vZmZzZXRzIjpbNjAsOTZdfSwibGF5ZXJzLjEuYmlhcyI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6Wzk2LDEwOF19LCJsYXllcnMuMi53ZWlnaHQiOnsiZHR5cGUiOiAxMDQKICAgIF1RdWFkcmF0aWMiLCJub3RlIjoiXHUwMEZDIFx1MCJGMzIiLCJzaGFwZSI6WzIsM10sImRhdGFfb2Zmc2V0cyI6WzEwOCwxMzJdfSwibGF5ZXJzLjIuYmlhcyI6eyJkInlwZSI6IkYzMiIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzEzMiwxNDBdfX0gICBqrvAoXoWK5DAThyH9wgInEsuER474o4MOybbGHOJfbfkRD9Xctr69GlHzT3QF358GtGVrkbeOiG5XFWrp05aQmUiHBgPhLG5tqp8KwY2Z29cYzcfOP8NyPgMqXRe1634AYAM9IRtprph2cNa5xC/SOBNIGfwOB/uoqePC9jaMNNgbu/HLFSnIVeOHFg==");

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load<float>(path));

        AssertOneLineNamingFile(e, path);
        Assert.InRange(e.Message.Length, 1, Fuzzer.MaxMessage);
        Assert.Contains("not valid JSON at line ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>csv: a header of thousands of columns without the label column was listed whole, and a long field
    /// that is not a number was quoted whole.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Csv_withHugeHeaderOrField_throwsShortInvalidData(bool header)
    {
        string path = Path.Combine(_dir, Fuzzer.FileStem + ".csv");
        File.WriteAllText(path, header
            ? string.Join(',', Enumerable.Range(0, 3000).Select(i => $"c{i}")) + "\n1\n"
            : "x,label\n" + new string('9', 3000) + "x,1\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        AssertOneLineNamingFile(e, path);
        Assert.InRange(e.Message.Length, 1, Fuzzer.MaxMessage);
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
