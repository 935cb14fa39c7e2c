using System.Globalization;
using Google.Protobuf;

namespace Backprop.Functional;

/// <summary>Writes a network of dense layers as an ONNX ModelProto (the layout <see cref="OnnxFile"/> documents): per
/// layer one Gemm (transB = 1: Wˡ is stored [outputs × inputs], as ONNX's B transposed) and the activation's nodes.</summary>
internal static class OnnxExport
{
    /// <summary>The metadata_props key that carries the network's loss, which no ONNX node expresses.</summary>
    public const string LossKey = "backprop-functional.loss";

    /// <summary>The metadata_props key that carries the layer list, for people reading the file.</summary>
    public const string LayersKey = "backprop-functional.layers";

    /// <summary>Whether every layer of <paramref name="spec"/> has an ONNX form here; otherwise the first that has not, named.</summary>
    public static bool CanExport(NetworkSpec spec, out string reason)
    {
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            var layer = spec.Layers[l];
            if (layer is not Dense dense)
            {
                reason = $"layer {l} ({layer.Kind}) has no ONNX form here: the exporter writes dense layers (Gemm and an activation) only";
                return false;
            }
            if (dense.PerStep)
            {
                reason = $"layer {l} (Dense, per step) reads sequences [batch × time × {dense.Inputs}]; the exporter writes feature layers [batch × n] only";
                return false;
            }
            if (!Enum.IsDefined(dense.Activation))
            {
                reason = $"layer {l} (Dense) has activation {dense.Activation}, which has no ONNX form here";
                return false;
            }
        }
        reason = "";
        return true;
    }

    /// <summary>Writes the model for <paramref name="spec"/> with float parameters <paramref name="theta"/> to
    /// <paramref name="path"/> through a temporary file renamed into place.</summary>
    public static void Write(string path, NetworkSpec spec, ReadOnlySpan<float> theta)
    {
        if (!CanExport(spec, out string reason)) throw new NotSupportedException($"{spec} cannot be exported to ONNX: {reason}");
        var graph = new GraphBuilder();
        graph.Build(spec);
        var content = new Content(spec, graph, theta);
        SafeTensors.WriteAtomically(path, ref content);
    }

    /// <summary>ModelProto's fields other than the graph: IR version, producer, doc string, opset, metadata.</summary>
    private static void WriteModelHead(CodedOutputStream o, NetworkSpec spec)
    {
        OnnxProto.WriteInt64(o, OnnxProto.ModelIrVersion, OnnxFile.IrVersion);
        OnnxProto.WriteString(o, OnnxProto.ModelProducerName, OnnxFile.ProducerName);
        OnnxProto.WriteString(o, OnnxProto.ModelProducerVersion,
            typeof(OnnxExport).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
        OnnxProto.WriteString(o, OnnxProto.ModelDocString, $"{spec}: input \"{OnnxFile.InputName}\" [batch × {spec.Inputs}] float32, output \"{OnnxFile.OutputName}\" [batch × {spec.Outputs}] float32");
        OnnxProto.WriteMessage(o, OnnxProto.ModelOpsetImport, OnnxProto.Encode(op =>
        {
            OnnxProto.WriteString(op, OnnxProto.OpsetDomain, "");
            OnnxProto.WriteInt64(op, OnnxProto.OpsetVersion, OnnxFile.Opset);
        }));
        OnnxProto.WriteMessage(o, OnnxProto.ModelMetadataProps, Entry(LossKey, spec.Loss.ToString()));
        OnnxProto.WriteMessage(o, OnnxProto.ModelMetadataProps, Entry(LayersKey, LayerListText.Format(spec)));
    }

    private static byte[] Entry(string key, string value) => OnnxProto.Encode(o =>
    {
        OnnxProto.WriteString(o, OnnxProto.EntryKey, key);
        OnnxProto.WriteString(o, OnnxProto.EntryValue, value);
    });

    /// <summary>The graph's nodes, inputs, outputs and scalar constants, encoded; the weight initializers are streamed
    /// from θ by <see cref="Content"/>.</summary>
    private sealed class GraphBuilder
    {
        public List<byte[]> Nodes { get; } = [];
        public List<(string Name, float Value)> Constants { get; } = [];
        public byte[] Input { get; private set; } = [];
        public byte[] Output { get; private set; } = [];

        public void Build(NetworkSpec spec)
        {
            string x = OnnxFile.InputName;
            int last = spec.Layers.Count - 1;
            for (int l = 0; l <= last; l++)
            {
                var d = (Dense)spec.Layers[l];
                string prefix = string.Create(CultureInfo.InvariantCulture, $"layers.{l}");
                string a = l == last ? OnnxFile.OutputName : prefix + ".a";
                string z = d.Activation == ActivationKind.Identity ? a : prefix + ".z";
                Node(prefix + ".gemm", "Gemm", [x, prefix + ".weight", prefix + ".bias"], z, OnnxProto.IntAttribute("transB", 1));
                switch (d.Activation)
                {
                    case ActivationKind.Identity: break;
                    case ActivationKind.Sigmoid: Node(prefix + ".sigmoid", "Sigmoid", [z], a); break;
                    case ActivationKind.Tanh: Node(prefix + ".tanh", "Tanh", [z], a); break;
                    case ActivationKind.ReLU: Node(prefix + ".relu", "Relu", [z], a); break;
                    case ActivationKind.LeakyReLU:
                        Node(prefix + ".leaky_relu", "LeakyRelu", [z], a, OnnxProto.FloatAttribute("alpha", 0.01f));
                        break;
                    case ActivationKind.Softplus: Node(prefix + ".softplus", "Softplus", [z], a); break;
                    case ActivationKind.Softmax: Node(prefix + ".softmax", "Softmax", [z], a, OnnxProto.IntAttribute("axis", 1)); break;
                    case ActivationKind.GELU: Gelu(prefix, z, a); break;
                    default: throw new NotSupportedException($"layer {l} (Dense) has activation {d.Activation}, which has no ONNX form here");
                }
                x = a;
            }
            Input = ValueInfo(OnnxFile.InputName, spec.Inputs);
            Output = ValueInfo(OnnxFile.OutputName, spec.Outputs);
        }

        /// <summary>GELU's tanh form, ½z(1 + tanh(√(2/π)(z + 0.044715z³))), in the order GELU.Apply computes it (opset 17
        /// has no Gelu operator; opset 20's Gelu(approximate = "tanh") is the same function).</summary>
        private void Gelu(string prefix, string z, string a)
        {
            if (Constants.Count == 0)
            {
                Constants.Add(("gelu.k", 0.044715f));
                Constants.Add(("gelu.c", 0.7978845608028654f));   // √(2/π)
                Constants.Add(("gelu.one", 1f));
                Constants.Add(("gelu.half", 0.5f));
            }
            string p = prefix + ".gelu";
            Node(p + ".z2", "Mul", [z, z], p + ".z2");                                  // z²
            Node(p + ".kz2", "Mul", [p + ".z2", "gelu.k"], p + ".kz2");                // kz²
            Node(p + ".1_kz2", "Add", [p + ".kz2", "gelu.one"], p + ".1_kz2");         // 1 + kz²
            Node(p + ".u", "Mul", [p + ".1_kz2", z], p + ".u");                        // z + kz³
            Node(p + ".cu", "Mul", [p + ".u", "gelu.c"], p + ".cu");                   // √(2/π)(z + kz³)
            Node(p + ".t", "Tanh", [p + ".cu"], p + ".t");                              // t
            Node(p + ".1_t", "Add", [p + ".t", "gelu.one"], p + ".1_t");               // 1 + t
            Node(p + ".half_1_t", "Mul", [p + ".1_t", "gelu.half"], p + ".half_1_t");  // ½(1 + t)
            Node(p + ".out", "Mul", [p + ".half_1_t", z], a);                           // ½z(1 + t)
        }

        private void Node(string name, string op, string[] inputs, string output, params byte[][] attributes) =>
            Nodes.Add(OnnxProto.Encode(o =>
            {
                foreach (string input in inputs) OnnxProto.WriteString(o, OnnxProto.NodeInput, input);
                OnnxProto.WriteString(o, OnnxProto.NodeOutput, output);
                OnnxProto.WriteString(o, OnnxProto.NodeName, name);
                OnnxProto.WriteString(o, OnnxProto.NodeOpType, op);
                foreach (byte[] attribute in attributes) OnnxProto.WriteMessage(o, OnnxProto.NodeAttribute, attribute);
            }));

        /// <summary>A float32 tensor [batch × <paramref name="width"/>], batch a named dynamic dimension.</summary>
        private static byte[] ValueInfo(string name, int width) => OnnxProto.Encode(o =>
        {
            OnnxProto.WriteString(o, OnnxProto.ValueInfoName, name);
            var dims = OnnxProto.Encode(s =>
            {
                OnnxProto.WriteMessage(s, OnnxProto.ShapeDim, OnnxProto.Encode(d => OnnxProto.WriteString(d, OnnxProto.DimParam, OnnxFile.BatchDimension)));
                OnnxProto.WriteMessage(s, OnnxProto.ShapeDim, OnnxProto.Encode(d => OnnxProto.WriteInt64(d, OnnxProto.DimValue, width)));
            });
            var tensor = OnnxProto.Encode(t =>
            {
                OnnxProto.WriteInt64(t, OnnxProto.TensorTypeElemType, OnnxProto.DataTypeFloat);
                OnnxProto.WriteMessage(t, OnnxProto.TensorTypeShape, dims);
            });
            OnnxProto.WriteMessage(o, OnnxProto.ValueInfoType, OnnxProto.Encode(t => OnnxProto.WriteMessage(t, OnnxProto.TypeTensorType, tensor)));
        });
    }

    /// <summary>A TensorProto's fields before its raw_data: dims, data_type FLOAT, name.</summary>
    private static void WriteTensorHead(CodedOutputStream o, string name, long[] dims)
    {
        foreach (long d in dims) OnnxProto.WriteInt64(o, OnnxProto.TensorDims, d);
        OnnxProto.WriteInt64(o, OnnxProto.TensorDataType, OnnxProto.DataTypeFloat);
        OnnxProto.WriteString(o, OnnxProto.TensorName, name);
    }

    /// <summary>The file: the model's head, then the graph, whose initializers' raw_data are written from θ directly
    /// (little-endian float32, as TensorProto.raw_data requires), so θ is never copied.</summary>
    private ref struct Content(NetworkSpec spec, GraphBuilder graph, ReadOnlySpan<float> theta) : IFileContent
    {
        private readonly ReadOnlySpan<float> _theta = theta;

        public readonly void WriteTo(Stream stream)
        {
            var slots = spec.Layout.Slots;
            int tensors = slots.Length + graph.Constants.Count;
            var names = new string[tensors];
            var dims = new long[tensors][];
            var counts = new long[tensors];
            var headSizes = new long[tensors];
            for (int t = 0; t < tensors; t++)
            {
                if (t < slots.Length)
                {
                    var slot = slots[t];
                    (names[t], dims[t], counts[t]) = (slot.Name, slot.Rank == 1 ? [slot.Rows] : [slot.Rows, slot.Columns], slot.Length);
                }
                else (names[t], dims[t], counts[t]) = (graph.Constants[t - slots.Length].Name, [], 1);   // a scalar: no dims
                string name = names[t];
                long[] shape = dims[t];
                headSizes[t] = OnnxProto.Encode(o => WriteTensorHead(o, name, shape)).Length;
            }

            long graphSize = CodedOutputStream.ComputeTagSize(OnnxProto.GraphName) + CodedOutputStream.ComputeStringSize(OnnxFile.GraphName)
                + OnnxProto.FieldSize(OnnxProto.GraphInput, graph.Input.Length) + OnnxProto.FieldSize(OnnxProto.GraphOutput, graph.Output.Length);
            foreach (byte[] node in graph.Nodes) graphSize += OnnxProto.FieldSize(OnnxProto.GraphNode, node.Length);
            for (int t = 0; t < tensors; t++) graphSize += OnnxProto.FieldSize(OnnxProto.GraphInitializer, TensorSize(headSizes[t], counts[t]));

            using var output = new CodedOutputStream(stream, leaveOpen: true);
            WriteModelHead(output, spec);
            output.WriteTag(OnnxProto.ModelGraph, WireFormat.WireType.LengthDelimited);
            output.WriteLength(checked((int)graphSize));
            foreach (byte[] node in graph.Nodes) OnnxProto.WriteMessage(output, OnnxProto.GraphNode, node);
            OnnxProto.WriteString(output, OnnxProto.GraphName, OnnxFile.GraphName);
            for (int t = 0; t < tensors; t++)
            {
                output.WriteTag(OnnxProto.GraphInitializer, WireFormat.WireType.LengthDelimited);
                output.WriteLength(checked((int)TensorSize(headSizes[t], counts[t])));
                WriteTensorHead(output, names[t], dims[t]);
                output.WriteTag(OnnxProto.TensorRawData, WireFormat.WireType.LengthDelimited);
                output.WriteLength(checked((int)(counts[t] * 4)));
                if (t < slots.Length)
                    foreach (float v in slots[t].Of(_theta)) output.WriteFloat(v);   // fixed 4 bytes, little-endian
                else output.WriteFloat(graph.Constants[t - slots.Length].Value);
            }
            OnnxProto.WriteMessage(output, OnnxProto.GraphInput, graph.Input);
            OnnxProto.WriteMessage(output, OnnxProto.GraphOutput, graph.Output);
            output.Flush();
        }

        private static long TensorSize(long head, long count) => head + OnnxProto.FieldSize(OnnxProto.TensorRawData, count * 4);
    }
}
