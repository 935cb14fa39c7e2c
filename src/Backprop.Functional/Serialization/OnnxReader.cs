using System.Globalization;
using Google.Protobuf;

namespace Backprop.Functional;

/// <summary>Decodes a ModelProto from a file's bytes into <see cref="OnnxModelProto"/>, with Google.Protobuf's
/// <see cref="CodedInputStream"/> over the whole file. Every length is checked against the end of its enclosing message
/// before anything is read, so a corrupt length is refused, never allocated; unknown fields are skipped, as protobuf
/// readers do; a known field with the wrong wire type is refused.</summary>
internal sealed class OnnxReader : IDisposable
{
    private readonly CodedInputStream _in;
    private readonly long _total;
    private long _field;   // where the field being read starts, for messages

    private OnnxReader(byte[] bytes)
    {
        _in = new CodedInputStream(bytes);
        _total = bytes.Length;
    }

    /// <summary>The model in <paramref name="bytes"/>.</summary>
    /// <exception cref="OnnxFormatException">The bytes are not a well-formed ModelProto (the reason names the field
    /// and byte offset).</exception>
    public static OnnxModelProto Read(byte[] bytes)
    {
        using var reader = new OnnxReader(bytes);
        try
        {
            return reader.Model(bytes.Length);
        }
        catch (InvalidProtocolBufferException e)
        {
            int stop = e.Message.IndexOf('.', StringComparison.Ordinal);
            throw new OnnxFormatException(string.Create(CultureInfo.InvariantCulture,
                $"the protobuf is truncated or corrupt in the field at byte {reader._field} of {bytes.Length} ({(stop > 0 ? e.Message[..stop] : e.Message)})"), e);
        }
    }

    public void Dispose() => _in.Dispose();

    private OnnxModelProto Model(long end)
    {
        long ir = 0;
        var opsets = new List<(string, long)>();
        var metadata = new List<(string, string)>();
        string producer = "", version = "";
        OnnxGraphProto? graph = null;
        while (Next(end, "ModelProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.ModelIrVersion: ir = Int64(tag, "ModelProto.ir_version"); break;
                case OnnxProto.ModelProducerName: producer = String(tag, "ModelProto.producer_name"); break;
                case OnnxProto.ModelProducerVersion: version = String(tag, "ModelProto.producer_version"); break;
                case OnnxProto.ModelGraph:
                    if (graph is not null) throw new OnnxFormatException("ModelProto holds two graphs");
                    graph = Graph(Begin(tag, "ModelProto.graph"));
                    break;
                case OnnxProto.ModelOpsetImport: opsets.Add(Opset(Begin(tag, "ModelProto.opset_import"))); break;
                case OnnxProto.ModelMetadataProps: metadata.Add(Entry(Begin(tag, "ModelProto.metadata_props"))); break;
                default: _in.SkipLastField(); break;
            }
        }
        if (graph is null) throw new OnnxFormatException("it holds no graph (ModelProto.graph): not an ONNX model");
        return new OnnxModelProto(ir, opsets, version.Length > 0 ? $"{producer} {version}" : producer, graph, metadata);
    }

    private (string, long) Opset(long end)
    {
        string domain = "";
        long version = 0;
        while (Next(end, "OperatorSetIdProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.OpsetDomain: domain = String(tag, "OperatorSetIdProto.domain"); break;
                case OnnxProto.OpsetVersion: version = Int64(tag, "OperatorSetIdProto.version"); break;
                default: _in.SkipLastField(); break;
            }
        }
        return (domain, version);
    }

    private (string, string) Entry(long end)
    {
        string key = "", value = "";
        while (Next(end, "StringStringEntryProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.EntryKey: key = String(tag, "StringStringEntryProto.key"); break;
                case OnnxProto.EntryValue: value = String(tag, "StringStringEntryProto.value"); break;
                default: _in.SkipLastField(); break;
            }
        }
        return (key, value);
    }

    private OnnxGraphProto Graph(long end)
    {
        var graph = new OnnxGraphProto([], [], [], []);
        while (Next(end, "GraphProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.GraphNode: graph.Nodes.Add(Node(Begin(tag, "GraphProto.node"))); break;
                case OnnxProto.GraphInitializer: graph.Initializers.Add(Tensor(Begin(tag, "GraphProto.initializer"))); break;
                case OnnxProto.GraphInput: graph.Inputs.Add(ValueInfo(Begin(tag, "GraphProto.input"))); break;
                case OnnxProto.GraphOutput: graph.Outputs.Add(ValueInfo(Begin(tag, "GraphProto.output"))); break;
                default: _in.SkipLastField(); break;
            }
        }
        return graph;
    }

    private OnnxNodeProto Node(long end)
    {
        var node = new OnnxNodeProto("", "", "", [], [], []);
        while (Next(end, "NodeProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.NodeInput: node.Inputs.Add(String(tag, "NodeProto.input")); break;
                case OnnxProto.NodeOutput: node.Outputs.Add(String(tag, "NodeProto.output")); break;
                case OnnxProto.NodeName: node = node with { Name = String(tag, "NodeProto.name") }; break;
                case OnnxProto.NodeOpType: node = node with { OpType = String(tag, "NodeProto.op_type") }; break;
                case OnnxProto.NodeDomain: node = node with { Domain = String(tag, "NodeProto.domain") }; break;
                case OnnxProto.NodeAttribute: node.Attributes.Add(Attribute(Begin(tag, "NodeProto.attribute"))); break;
                default: _in.SkipLastField(); break;
            }
        }
        return node;
    }

    private OnnxAttributeProto Attribute(long end)
    {
        var a = new OnnxAttributeProto("", 0, 0, 0, "", null);
        while (Next(end, "AttributeProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.AttributeName: a = a with { Name = String(tag, "AttributeProto.name") }; break;
                case OnnxProto.AttributeType: a = a with { Type = Int64(tag, "AttributeProto.type") }; break;
                case OnnxProto.AttributeI: a = a with { I = Int64(tag, "AttributeProto.i") }; break;
                case OnnxProto.AttributeS: a = a with { S = String(tag, "AttributeProto.s") }; break;
                case OnnxProto.AttributeF:
                    Want(tag, WireFormat.WireType.Fixed32, "AttributeProto.f");
                    a = a with { F = _in.ReadFloat() };
                    break;
                case OnnxProto.AttributeT: a = a with { T = Tensor(Begin(tag, "AttributeProto.t")) }; break;
                default: _in.SkipLastField(); break;
            }
        }
        return a;
    }

    private OnnxTensorProto Tensor(long end)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        string name = "";
        long type = 0;
        ByteString? raw = null;
        bool external = false;
        while (Next(end, "TensorProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.TensorDims:
                    if (WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
                    {
                        long stop = Begin(tag, "TensorProto.dims");
                        while (_in.Position < stop) dims.Add(_in.ReadInt64());
                        if (_in.Position != stop) throw Overrun("TensorProto.dims");
                    }
                    else dims.Add(Int64(tag, "TensorProto.dims"));
                    break;
                case OnnxProto.TensorDataType: type = Int64(tag, "TensorProto.data_type"); break;
                case OnnxProto.TensorName: name = String(tag, "TensorProto.name"); break;
                case OnnxProto.TensorRawData:
                    Want(tag, WireFormat.WireType.LengthDelimited, "TensorProto.raw_data");
                    raw = _in.ReadBytes();
                    break;
                case OnnxProto.TensorFloatData:
                    if (WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
                    {
                        long stop = Begin(tag, "TensorProto.float_data");
                        if ((stop - _in.Position) % 4 != 0) throw new OnnxFormatException("TensorProto.float_data is not a whole number of floats");
                        while (_in.Position < stop) floats.Add(_in.ReadFloat());
                    }
                    else
                    {
                        Want(tag, WireFormat.WireType.Fixed32, "TensorProto.float_data");
                        floats.Add(_in.ReadFloat());
                    }
                    break;
                case OnnxProto.TensorDataLocation: external |= Int64(tag, "TensorProto.data_location") == 1; break;
                case OnnxProto.TensorExternalData: external = true; _in.SkipLastField(); break;
                default: _in.SkipLastField(); break;
            }
        }
        return new OnnxTensorProto(name, [.. dims], type, raw, floats.Count > 0 ? [.. floats] : null, external);
    }

    private OnnxValueInfo ValueInfo(long end)
    {
        string name = "";
        long elem = 0;
        long[]? dims = null;
        while (Next(end, "ValueInfoProto", out uint tag))
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case OnnxProto.ValueInfoName: name = String(tag, "ValueInfoProto.name"); break;
                case OnnxProto.ValueInfoType:
                    long typeEnd = Begin(tag, "ValueInfoProto.type");
                    while (Next(typeEnd, "TypeProto", out uint t))
                    {
                        if (WireFormat.GetTagFieldNumber(t) != OnnxProto.TypeTensorType) { _in.SkipLastField(); continue; }
                        long tensorEnd = Begin(t, "TypeProto.tensor_type");
                        while (Next(tensorEnd, "TypeProto.Tensor", out uint u))
                        {
                            switch (WireFormat.GetTagFieldNumber(u))
                            {
                                case OnnxProto.TensorTypeElemType: elem = Int64(u, "TypeProto.Tensor.elem_type"); break;
                                case OnnxProto.TensorTypeShape: dims = Shape(Begin(u, "TypeProto.Tensor.shape")); break;
                                default: _in.SkipLastField(); break;
                            }
                        }
                    }
                    break;
                default: _in.SkipLastField(); break;
            }
        }
        return new OnnxValueInfo(name, elem, dims);
    }

    private long[] Shape(long end)
    {
        var dims = new List<long>();
        while (Next(end, "TensorShapeProto", out uint tag))
        {
            if (WireFormat.GetTagFieldNumber(tag) != OnnxProto.ShapeDim) { _in.SkipLastField(); continue; }
            long dimEnd = Begin(tag, "TensorShapeProto.dim");
            long value = -1;
            while (Next(dimEnd, "Dimension", out uint d))
            {
                if (WireFormat.GetTagFieldNumber(d) == OnnxProto.DimValue) value = Int64(d, "Dimension.dim_value");
                else _in.SkipLastField();
            }
            dims.Add(value);
        }
        return [.. dims];
    }

    /// <summary>The next tag of the message ending at <paramref name="end"/>, false at its end; refuses a field that ran
    /// past it.</summary>
    private bool Next(long end, string message, out uint tag)
    {
        tag = 0;
        if (_in.Position == end) return false;
        if (_in.Position > end) throw Overrun(message);
        _field = _in.Position;
        tag = _in.ReadTag();
        if (tag == 0) throw new OnnxFormatException(string.Create(CultureInfo.InvariantCulture, $"{message} has a field number 0 at byte {_in.Position}"));
        return true;
    }

    /// <summary>Reads a length-delimited field's length and returns where it ends, refusing one that runs past the
    /// enclosing message's bytes.</summary>
    private long Begin(uint tag, string field)
    {
        Want(tag, WireFormat.WireType.LengthDelimited, field);
        long start = _in.Position;
        int length = _in.ReadLength();
        long end = _in.Position + length;
        if (length < 0 || end > _total)
            throw new OnnxFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{field} at byte {start} claims {length} bytes, past the end of the file ({_total} bytes)"));
        return end;
    }

    private long Int64(uint tag, string field)
    {
        Want(tag, WireFormat.WireType.Varint, field);
        return _in.ReadInt64();
    }

    private string String(uint tag, string field)
    {
        Want(tag, WireFormat.WireType.LengthDelimited, field);
        return _in.ReadString();
    }

    private void Want(uint tag, WireFormat.WireType type, string field)
    {
        if (WireFormat.GetTagWireType(tag) != type)
            throw new OnnxFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{field} at byte {_in.Position} has wire type {WireFormat.GetTagWireType(tag)}, not {type}"));
    }

    private OnnxFormatException Overrun(string message) => new(string.Create(CultureInfo.InvariantCulture,
        $"a field of {message} runs past the message's end (byte {_in.Position})"));
}

/// <summary>An ONNX file that cannot be read, with the reason (the caller adds the path).</summary>
internal sealed class OnnxFormatException(string message, Exception? inner = null) : Exception(message, inner);
