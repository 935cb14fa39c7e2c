using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>Each way a model file can be wrong is refused with an <see cref="InvalidDataException"/> that names the
/// file and the reason.</summary>
public sealed class ModelFileBadInputTests : IDisposable
{
    private readonly ModelDirectory _dir = new();
    private readonly string _path;

    public ModelFileBadInputTests()
    {
        _path = _dir.File();
        ModelFiles.SaveSmall(_path, new Dictionary<string, string> { ["epochs"] = "4" });
    }

    public void Dispose() => _dir.Dispose();

    private void AssertRefused(params string[] reasons)
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(_path));
        Assert.StartsWith(_path, e.Message, StringComparison.Ordinal);
        foreach (string reason in reasons) Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    private void WriteBytes(byte[] bytes) => File.WriteAllBytes(_path, bytes);

    private void WriteHeader(string header, byte[]? data = null) => WriteBytes(ModelFiles.Join(header, data ?? []));

    [Fact]
    public void Load_ofFileShorterThan8Bytes_throwsNamingLength()
    {
        WriteBytes([1, 2, 3]);
        AssertRefused("3 bytes long");
    }

    [Fact]
    public void Load_ofHeaderLengthBeyondFile_throwsNamingBothLengths()
    {
        byte[] file = File.ReadAllBytes(_path);
        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue);
        WriteBytes(file);
        AssertRefused(ulong.MaxValue.ToString(), "larger than");
    }

    [Fact]
    public void Load_ofHeaderNotJson_throwsNotValidJson()
    {
        WriteHeader("{\"__metadata__\": {\"format\": ");
        AssertRefused("not valid JSON");
    }

    [Fact]
    public void Load_ofHeaderInvalidUtf8_throwsNotUtf8()
    {
        byte[] file = ModelFiles.Join("{\"a\":\"xx\"}", []);
        file[8 + 6] = 0xFF;
        WriteBytes(file);
        AssertRefused("UTF-8");
    }

    [Theory]
    [InlineData("[]", "Array")]
    [InlineData("42      ", "Number")]
    [InlineData("\"text\"", "String")]
    public void Load_ofHeaderNotAnObject_throwsNamingKind(string header, string kind)
    {
        WriteHeader(header);
        AssertRefused("not an object", kind);
    }

    [Theory]
    [InlineData("format")]
    [InlineData("layers")]
    [InlineData("loss")]
    public void Load_withoutReservedMetadataEntry_throwsNamingEntry(string key)
    {
        ModelFiles.EditHeader(_path, h => ModelFiles.Meta(h).Remove(key));
        AssertRefused($"no \"{key}\"");
    }

    [Fact]
    public void Load_withoutMetadata_throwsNoFormat()
    {
        ModelFiles.EditHeader(_path, h => h.Remove("__metadata__"));
        AssertRefused("no \"format\"");
    }

    [Fact]
    public void Load_ofOtherFormat_throwsNamingFormat()
    {
        ModelFiles.EditHeader(_path, h => ModelFiles.Meta(h)["format"] = "pytorch");
        AssertRefused("\"pytorch\"", "backprop-functional");
    }

    [Fact]
    public void Load_withNonStringMetadataValue_throws()
    {
        ModelFiles.EditHeader(_path, h => ModelFiles.Meta(h)["epochs"] = 4);
        AssertRefused("\"epochs\"", "must be strings");
    }

    [Theory]
    [InlineData("3-4:Swish,4-2:Softmax", "unknown activation \"Swish\"")]
    [InlineData("3-4:relu,4-2:Softmax", "unknown activation \"relu\"")]
    [InlineData("3-4:3,4-2:Softmax", "unknown activation \"3\"")]
    [InlineData("3-4:ReLU,5-2:Softmax", "do not chain")]
    [InlineData("3-4:ReLU,4-0:Softmax", "positive widths")]
    [InlineData("3-4,4-2:Softmax", "inputs-outputs:Activation")]
    [InlineData("", "empty")]
    [InlineData("3-4:ReLU,4-2:Tanh", "does not fit")]
    [InlineData("100000-100000:Softmax", "more parameters")]
    public void Load_withBadLayerList_throwsNamingProblem(string layers, string reason)
    {
        ModelFiles.EditHeader(_path, h => ModelFiles.Meta(h)["layers"] = layers);
        AssertRefused(reason);
    }

    [Fact]
    public void Load_withLayerListLongerThanTheTensors_throwsBeforeParsingIt()
    {
        // 100000 layers in a few hundred bytes of metadata would be parsed into 100000 layer records and 200000
        // named slots; the header holds 4 tensors, so the list is refused first.
        string layers = string.Concat(Enumerable.Repeat("3-3:ReLU,", 99_999)) + "3-2:Softmax";
        ModelFiles.EditHeader(_path, h => ModelFiles.Meta(h)["layers"] = layers);
        AssertRefused("names 100000 layers", "only 4 tensors");
    }

    [Fact]
    public void Load_withUnknownLoss_throwsNamingLoss()
    {
        ModelFiles.EditHeader(_path, h => ModelFiles.Meta(h)["loss"] = "Hinge");
        AssertRefused("unknown loss \"Hinge\"");
    }

    [Fact]
    public void Load_withTensorMissing_throwsNamingTensor()
    {
        ModelFiles.Edit(_path, (h, d) =>
        {
            h.Remove("layers.1.bias");   // the last tensor: the data must shrink with it
            return d[..^8];
        });
        AssertRefused("\"layers.1.bias\"", "missing");
    }

    [Fact]
    public void Load_withUnexpectedTensor_throwsNamingTensor()
    {
        ModelFiles.Edit(_path, (h, d) =>
        {
            h["extra"] = JsonNode.Parse($"{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{d.Length},{d.Length + 4}]}}");
            return [.. d, 0, 0, 0, 0];
        });
        AssertRefused("\"extra\"", "not part of");
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("I32")]
    public void Load_withWrongDtype_throwsNamingDtype(string dtype)
    {
        ModelFiles.EditHeader(_path, h => h["layers.0.weight"]!["dtype"] = dtype);
        AssertRefused("\"layers.0.weight\"", dtype, "F32 and F64");
    }

    [Fact]
    public void Load_withWrongShape_throwsNamingBothShapes()
    {
        ModelFiles.EditHeader(_path, h => h["layers.0.weight"]!["shape"] = new JsonArray(3, 4));
        AssertRefused("\"layers.0.weight\"", "[3, 4]", "[4, 3]");
    }

    [Fact]
    public void Load_withBiasShapedAsMatrix_throwsNamingBothShapes()
    {
        ModelFiles.EditHeader(_path, h => h["layers.1.bias"]!["shape"] = new JsonArray(2, 1));
        AssertRefused("\"layers.1.bias\"", "[2, 1]", "[2]");
    }

    [Fact]
    public void Load_withOverlappingOffsets_throwsNamingBothTensors()
    {
        ModelFiles.EditHeader(_path, h => h["layers.0.bias"]!["data_offsets"] = new JsonArray(40, 56));
        AssertRefused("overlap", "layers.0.bias", "layers.0.weight");
    }

    [Fact]
    public void Load_withOffsetsPastData_throwsRunPastEnd()
    {
        ModelFiles.EditHeader(_path, h => h["layers.1.bias"]!["data_offsets"] = new JsonArray(104, 112));
        AssertRefused("layers.1.bias");
    }

    [Fact]
    public void Load_withNegativeOrFractionalOffset_throwsNotNonNegativeInteger()
    {
        ModelFiles.EditHeader(_path, h => h["layers.0.weight"]!["data_offsets"] = new JsonArray(-1, 47.5));
        AssertRefused("layers.0.weight", "non-negative integer");
    }

    [Fact]
    public void Load_withOffsetsSpanningWrongByteCount_throwsNamingBytes()
    {
        // Tiles the buffer but gives the weight 44 bytes instead of 48 and the bias 20 instead of 16.
        ModelFiles.EditHeader(_path, h =>
        {
            h["layers.0.weight"]!["data_offsets"] = new JsonArray(0, 44);
            h["layers.0.bias"]!["data_offsets"] = new JsonArray(44, 64);
        });
        AssertRefused("layers.0.weight", "48 bytes", "span 44");
    }

    [Fact]
    public void Load_withExtraDataBytes_throwsNamingLengths()
    {
        ModelFiles.Edit(_path, (_, d) => [.. d, 1, 2, 3, 4]);
        AssertRefused("data section is 108 bytes", "cover 104");
    }

    [Fact]
    public void Load_withNaNParameter_throwsNamingTensorAndIndex()
    {
        ModelFiles.Edit(_path, (_, d) =>
        {
            BinaryPrimitives.WriteSingleLittleEndian(d.AsSpan(4 * 5), float.NaN);   // layers.0.weight[5] = row 1, column 2
            return d;
        });
        AssertRefused("\"layers.0.weight\"", "NaN", "index 5", "row 1, column 2");
    }

    [Fact]
    public void Load_withInfinityParameter_throwsNamingTensorAndIndex()
    {
        ModelFiles.Edit(_path, (_, d) =>
        {
            BinaryPrimitives.WriteSingleLittleEndian(d.AsSpan(4 * (12 + 4 + 8 + 1)), float.PositiveInfinity);   // layers.1.bias[1]
            return d;
        });
        AssertRefused("\"layers.1.bias\"", "Infinity", "index 1");
    }

    [Fact]
    public void Load_asFloatOfDoubleTooLargeForFloat_throwsNamingConversion()
    {
        double[] theta = new double[ModelFiles.Small.Layout.Count];
        theta[3] = 1e300;
        ModelFile.Save<double>(_path, ModelFiles.Small, theta);

        AssertRefused("\"layers.0.weight\"", "index 3", "conversion from F64");
        Assert.Equal(1e300, ModelFile.Load<double>(_path).Parameters[3]);
    }

    [Fact]
    public void Load_withDuplicateTensor_throwsAppearsTwice()
    {
        byte[] file = File.ReadAllBytes(_path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var (_, data) = ModelFiles.Split(file);
        string json = System.Text.Encoding.UTF8.GetString(file, 8, n).TrimEnd();
        json = json[..^1] + ",\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]}}";
        WriteHeader(json, data);
        AssertRefused("\"layers.0.bias\"", "twice");
    }

    [Fact]
    public void Load_ofMissingFile_throwsFileNotFound() =>
        Assert.Throws<FileNotFoundException>(() => ModelFile.Load(_dir.File("absent.safetensors")));

    [Fact]
    public void Load_asHalf_throwsNotSupported() =>
        Assert.Throws<NotSupportedException>(() => ModelFile.Load<Half>(_path));
}
