using System.Buffers.Binary;
using Google.Protobuf;

namespace Backprop.Functional;

/// <summary>The parts of onnx.proto (ONNX's protobuf schema, proto2) that dense networks use: field numbers and enum
/// values, a small message model for what <see cref="OnnxFile.Load"/> reads, and the encoding helpers both directions
/// share. Messages are encoded and decoded by hand with Google.Protobuf's <see cref="CodedOutputStream"/> and
/// <see cref="CodedInputStream"/>: no generated classes, no reflection, so NativeAOT and trimming see every call.</summary>
internal static class OnnxProto
{
    // ModelProto
    public const int ModelIrVersion = 1, ModelProducerName = 2, ModelProducerVersion = 3, ModelDocString = 6, ModelGraph = 7,
        ModelOpsetImport = 8, ModelMetadataProps = 14;
    // OperatorSetIdProto, StringStringEntryProto
    public const int OpsetDomain = 1, OpsetVersion = 2, EntryKey = 1, EntryValue = 2;
    // GraphProto
    public const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphDocString = 10, GraphInput = 11, GraphOutput = 12;
    // NodeProto
    public const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5, NodeDomain = 7;
    // AttributeProto and its AttributeType values
    public const int AttributeName = 1, AttributeF = 2, AttributeI = 3, AttributeS = 4, AttributeT = 5, AttributeType = 20;
    public const int AttributeInts = 8, AttributeStrings = 9;
    public const int AttributeFloat = 1, AttributeInt = 2, AttributeString = 3, AttributeTensor = 4, AttributeIntsType = 7, AttributeStringsType = 8;
    // TensorProto and its DataType values
    public const int TensorDims = 1, TensorDataType = 2, TensorFloatData = 4, TensorName = 8, TensorRawData = 9,
        TensorExternalData = 13, TensorDataLocation = 14;
    public const int DataTypeFloat = 1, DataTypeDouble = 11;
    // ValueInfoProto → TypeProto → TypeProto.Tensor → TensorShapeProto → Dimension
    public const int ValueInfoName = 1, ValueInfoType = 2, TypeTensorType = 1, TensorTypeElemType = 1, TensorTypeShape = 2,
        ShapeDim = 1, DimValue = 1, DimParam = 2;

    /// <summary>A message's bytes, encoded by <paramref name="write"/> into memory (the small messages: nodes, value
    /// infos, tensor headers); the caller writes them as a length-delimited field with <see cref="WriteMessage"/>.</summary>
    public static byte[] Encode(Action<CodedOutputStream> write)
    {
        using var memory = new MemoryStream();
        using (var output = new CodedOutputStream(memory, leaveOpen: true))
        {
            write(output);
            output.Flush();
        }
        return memory.ToArray();
    }

    /// <summary>Field <paramref name="field"/> holding the encoded message <paramref name="message"/>.</summary>
    public static void WriteMessage(CodedOutputStream output, int field, byte[] message)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(UnsafeByteOperations.UnsafeWrap(message));
    }

    /// <summary>Bytes of a length-delimited field of <paramref name="length"/> content bytes, tag included.</summary>
    public static long FieldSize(int field, long length) =>
        CodedOutputStream.ComputeTagSize(field) + CodedOutputStream.ComputeLengthSize(checked((int)length)) + length;

    public static void WriteString(CodedOutputStream output, int field, string value)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteString(value);
    }

    public static void WriteInt64(CodedOutputStream output, int field, long value)
    {
        output.WriteTag(field, WireFormat.WireType.Varint);
        output.WriteInt64(value);
    }

    /// <summary>An AttributeProto of type INT.</summary>
    public static byte[] IntAttribute(string name, long value) => Encode(o =>
    {
        WriteString(o, AttributeName, name);
        WriteInt64(o, AttributeI, value);
        WriteInt64(o, AttributeType, AttributeInt);
    });

    /// <summary>An AttributeProto of type INTS (packed).</summary>
    public static byte[] IntsAttribute(string name, long[] values) => Encode(o =>
    {
        WriteString(o, AttributeName, name);
        foreach (long v in values) WriteInt64(o, AttributeInts, v);
        WriteInt64(o, AttributeType, AttributeIntsType);
    });

    /// <summary>An AttributeProto of type STRINGS (UTF-8 bytes).</summary>
    public static byte[] StringsAttribute(string name, string[] values) => Encode(o =>
    {
        WriteString(o, AttributeName, name);
        foreach (string v in values) WriteString(o, AttributeStrings, v);
        WriteInt64(o, AttributeType, AttributeStringsType);
    });

    /// <summary>An AttributeProto of type FLOAT.</summary>
    public static byte[] FloatAttribute(string name, float value) => Encode(o =>
    {
        WriteString(o, AttributeName, name);
        o.WriteTag(AttributeF, WireFormat.WireType.Fixed32);
        o.WriteFloat(value);
        WriteInt64(o, AttributeType, AttributeFloat);
    });
}

/// <summary>A ModelProto as read: what the importer looks at, nothing else.</summary>
internal sealed record OnnxModelProto(long IrVersion, List<(string Domain, long Version)> Opsets, string Producer, OnnxGraphProto Graph,
    List<(string Key, string Value)> Metadata);

/// <summary>A GraphProto as read.</summary>
internal sealed record OnnxGraphProto(List<OnnxNodeProto> Nodes, List<OnnxTensorProto> Initializers, List<OnnxValueInfo> Inputs,
    List<OnnxValueInfo> Outputs);

/// <summary>A NodeProto as read; <see cref="Label"/> names it in messages.</summary>
internal sealed record OnnxNodeProto(string Name, string OpType, string Domain, List<string> Inputs, List<string> Outputs,
    List<OnnxAttributeProto> Attributes)
{
    public string Label => Name.Length > 0 ? $"\"{InputText.Excerpt(Name)}\" ({InputText.Excerpt(OpType)})" : $"{InputText.Excerpt(OpType)} node";

    public OnnxAttributeProto? Attribute(string name) => Attributes.Find(a => a.Name == name);
}

/// <summary>An AttributeProto as read (the scalar kinds and a tensor; lists are skipped).</summary>
internal sealed record OnnxAttributeProto(string Name, long Type, float F, long I, string S, OnnxTensorProto? T);

/// <summary>A TensorProto as read: its data stays encoded until the importer knows what it needs.</summary>
internal sealed record OnnxTensorProto(string Name, long[] Dims, long DataType, ByteString? Raw, float[]? FloatData, bool External)
{
    /// <summary>Number of elements: the product of the dims (1 for a scalar), or −1 if a dim is negative or the product
    /// exceeds <paramref name="limit"/>.</summary>
    public long Count(long limit)
    {
        long n = 1;
        foreach (long d in Dims)
        {
            if (d < 0 || (d > 0 && n > limit / d)) return -1;
            n *= d;
        }
        return n <= limit ? n : -1;
    }

    /// <summary>The FLOAT elements, from raw_data (little-endian) or float_data; null with a reason when the tensor is
    /// not float32, is stored outside the file, or its data does not hold <paramref name="count"/> elements.</summary>
    public float[]? Floats(long count, out string reason)
    {
        reason = "";
        if (External) { reason = "its data is stored in an external file"; return null; }
        if (DataType != OnnxProto.DataTypeFloat) { reason = $"its data type is {DataTypeName(DataType)}, not FLOAT (float32)"; return null; }
        if (Raw is { Length: > 0 } raw)
        {
            if (raw.Length != count * 4) { reason = $"its raw_data holds {raw.Length} bytes, not {count} × 4"; return null; }
            var values = new float[count];
            var span = raw.Span;
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(4 * i));
            return values;
        }
        var data = FloatData ?? [];
        if (data.Length != count) { reason = $"it holds {data.Length} values for {count} elements"; return null; }
        return data;
    }

    private static string DataTypeName(long type) => type switch
    {
        0 => "UNDEFINED", 1 => "FLOAT", 2 => "UINT8", 3 => "INT8", 4 => "UINT16", 5 => "INT16", 6 => "INT32", 7 => "INT64",
        8 => "STRING", 9 => "BOOL", 10 => "FLOAT16", 11 => "DOUBLE", 12 => "UINT32", 13 => "UINT64", 16 => "BFLOAT16",
        _ => $"data type {type}",
    };
}

/// <summary>A graph input or output: its name, element type and dims (a dim_param or an unknown dim is −1).</summary>
internal sealed record OnnxValueInfo(string Name, long ElemType, long[]? Dims);
