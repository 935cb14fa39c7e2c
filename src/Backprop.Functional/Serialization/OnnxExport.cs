using System.Globalization;
using Google.Protobuf;

namespace Backprop.Functional;

/// <summary>Writes a network as an ONNX ModelProto (the layout <see cref="OnnxFile"/> documents): per dense layer one
/// Gemm (transB = 1: Wˡ is stored [outputs × inputs], as ONNX's B transposed) or, per step, MatMul + Add, and the
/// activation's nodes; per recurrent layer ONNX's RNN, LSTM or GRU node over a time-major sequence.</summary>
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
            switch (layer)
            {
                case Dense dense when !Enum.IsDefined(dense.Activation):
                    reason = $"layer {l} (Dense) has activation {dense.Activation}, which has no ONNX form here";
                    return false;
                case Dense:
                    break;
                case Rnn { InitialState: InitialState.Carried } or Lstm { InitialState: InitialState.Carried } or Gru { InitialState: InitialState.Carried }:
                    reason = $"layer {l} ({layer.Kind}) starts from the state carried over from the previous call (InitialState.Carried), which an ONNX graph has no place for; export it with a zero or learned initial state";
                    return false;
                case Rnn or Lstm or Gru:
                    break;
                default:
                    reason = $"layer {l} ({layer.Kind}) has no ONNX form here: the exporter writes dense layers (Gemm or MatMul and an activation) and Rnn, Lstm and Gru layers (ONNX's RNN, LSTM and GRU operators) only";
                    return false;
            }
        }
        reason = "";
        return true;
    }

    /// <summary>The graph's input or output shape as text, for messages: <c>[batch × n]</c> or <c>[batch × time × n]</c>.</summary>
    public static string ShapeText(EdgeShape edge) =>
        edge.IsSequence ? $"[{OnnxFile.BatchDimension} × {OnnxFile.TimeDimension} × {edge.Width}]" : $"[{OnnxFile.BatchDimension} × {edge.Width}]";

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
        OnnxProto.WriteString(o, OnnxProto.ModelDocString, $"{spec}: input \"{OnnxFile.InputName}\" {ShapeText(spec.Layers[0].Input)} float32, output \"{OnnxFile.OutputName}\" {ShapeText(spec.Layers[^1].Output)} float32");
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

    /// <summary>One initializer whose data is read from θ: the pieces [Start, Start + Length) of θ one after the other, so
    /// a recurrent layer's gate blocks are reordered (and its two biases joined) without copying θ.</summary>
    private sealed record Initializer(string Name, long[] Dims, (int Start, int Length)[] Pieces)
    {
        public long Count
        {
            get
            {
                long n = 0;
                foreach (var (_, length) in Pieces) n += length;
                return n;
            }
        }
    }

    /// <summary>The graph's nodes, inputs, outputs and initializers (θ's pieces and scalar constants), encoded; the
    /// initializers' data is streamed from θ by <see cref="Content"/>.</summary>
    private sealed class GraphBuilder
    {
        /// <summary>Row blocks of ONNX's gates in PyTorch's order: ONNX's LSTM gates are i, o, f, c where PyTorch's
        /// are i, f, g, o; ONNX's GRU gates are z, r, h where PyTorch's are r, z, n.</summary>
        internal static readonly int[] LstmGates = [0, 3, 1, 2], GruGates = [1, 0, 2], RnnGates = [0];

        public List<byte[]> Nodes { get; } = [];
        public List<(string Name, float Value)> Constants { get; } = [];
        public List<Initializer> Initializers { get; } = [];
        public byte[] Input { get; private set; } = [];
        public byte[] Output { get; private set; } = [];

        public void Build(NetworkSpec spec)
        {
            var layout = spec.Layout;
            bool sequenceIn = spec.Layers[0].Input.IsSequence, sequenceOut = spec.Layers[^1].Output.IsSequence;
            string x = OnnxFile.InputName;
            if (sequenceIn)
            {
                // The library's sequences are batch-first [batch × time × n]; ONNX Runtime's CPU RNN/LSTM/GRU take
                // time-major [time × batch × n] only (layout = 1 is refused), so the graph transposes at both ends.
                Node("input.time_major", "Transpose", [x], "input.time_major", OnnxProto.IntsAttribute("perm", [1, 0, 2]));
                x = "input.time_major";
            }
            int last = spec.Layers.Count - 1;
            for (int l = 0; l <= last; l++)
            {
                var layer = spec.Layers[l];
                string prefix = string.Create(CultureInfo.InvariantCulture, $"layers.{l}");
                string a = l == last && !sequenceOut ? OnnxFile.OutputName : prefix + ".a";
                var slots = layout.SlotsOf(l);
                switch (layer)
                {
                    case Dense d: Dense(d, prefix, slots, x, a); break;
                    case Rnn r: Recurrent(r, "RNN", 1, RnnGates, r.Activation == ActivationKind.ReLU ? "Relu" : "Tanh", prefix, slots, x, a); break;
                    case Lstm m: Recurrent(m, "LSTM", 4, LstmGates, null, prefix, slots, x, a); break;
                    case Gru g: Recurrent(g, "GRU", 3, GruGates, null, prefix, slots, x, a); break;
                    default: throw new NotSupportedException($"layer {l} ({layer.Kind}) has no ONNX form here");
                }
                x = a;
            }
            if (sequenceOut) Node("output.batch_major", "Transpose", [x], OnnxFile.OutputName, OnnxProto.IntsAttribute("perm", [1, 0, 2]));
            Input = ValueInfo(OnnxFile.InputName, spec.Inputs, sequenceIn);
            Output = ValueInfo(OnnxFile.OutputName, spec.Outputs, sequenceOut);
        }

        /// <summary>A dense layer: Gemm (transB = 1) on [batch × n]; on a time-major sequence [time × batch × n] (a
        /// per-step layer) MatMul by Wᵀ (a Transpose of the initializer, which ONNX Runtime folds) and Add b.</summary>
        private void Dense(Dense d, string prefix, ReadOnlySpan<Slot> slots, string x, string a)
        {
            string weight = prefix + ".weight", bias = prefix + ".bias";
            Initializers.Add(new(weight, [d.Outputs, d.Inputs], [(slots[0].Offset, slots[0].Length)]));
            Initializers.Add(new(bias, [d.Outputs], [(slots[1].Offset, slots[1].Length)]));
            string z = d.Activation == ActivationKind.Identity ? a : prefix + ".z";
            if (d.PerStep)
            {
                Node(prefix + ".weight_t", "Transpose", [weight], prefix + ".weight_t", OnnxProto.IntsAttribute("perm", [1, 0]));
                Node(prefix + ".matmul", "MatMul", [x, prefix + ".weight_t"], prefix + ".xw");
                Node(prefix + ".add", "Add", [prefix + ".xw", bias], z);
            }
            else Node(prefix + ".gemm", "Gemm", [x, weight, bias], z, OnnxProto.IntAttribute("transB", 1));
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
                case ActivationKind.Softmax: Node(prefix + ".softmax", "Softmax", [z], a, OnnxProto.IntAttribute("axis", d.PerStep ? 2 : 1)); break;
                case ActivationKind.GELU: Gelu(prefix, z, a); break;
                default: throw new NotSupportedException($"{prefix} (Dense) has activation {d.Activation}, which has no ONNX form here");
            }
        }

        /// <summary>A recurrent layer as ONNX's <paramref name="op"/> over the time-major sequence <paramref name="x"/>:
        /// W = weight_ih [1 × G·H × I], R = weight_hh [1 × G·H × H], B = [bias_ih | bias_hh] [1 × 2·G·H], each with its
        /// row blocks in ONNX's gate order; a learned h₀ (c₀) expanded over the batch as initial_h (initial_c). Y
        /// [time × 1 × batch × H] squeezed to [time × batch × H] for a layer that returns sequences, else Y_h
        /// [1 × batch × H] to [batch × H].</summary>
        private void Recurrent<TLayer, TKernel>(RecurrentLayer<TLayer, TKernel> layer, string op, int gates, int[] order, string? activation,
            string prefix, ReadOnlySpan<Slot> slots, string x, string a)
            where TLayer : RecurrentLayer<TLayer, TKernel> where TKernel : struct, ILayerKernel<TLayer>
        {
            int h = layer.Hidden, inputs = layer.Inputs;
            // slots: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then h0 (and c0) when learned
            string w = prefix + ".W", r = prefix + ".R", b = prefix + ".B";
            Initializers.Add(new(w, [1, gates * h, inputs], Blocks(order, slots[0].Offset, h * inputs)));
            Initializers.Add(new(r, [1, gates * h, h], Blocks(order, slots[1].Offset, h * h)));
            Initializers.Add(new(b, [1, 2 * gates * h], [.. Blocks(order, slots[2].Offset, h), .. Blocks(order, slots[3].Offset, h)]));
            var inputsOf = new List<string> { x, w, r, b };
            if (layer.InitialState == InitialState.Learned)
            {
                // initial_h is [1 × batch × H]: h₀ [1 × 1 × H] expanded to the dynamic batch (x's dimension 1)
                Node(prefix + ".batch", "Shape", [x], prefix + ".batch", OnnxProto.IntAttribute("start", 1), OnnxProto.IntAttribute("end", 2));
                Node(prefix + ".one", "Constant", [], prefix + ".one", OnnxProto.IntsAttribute("value_ints", [1]));
                Node(prefix + ".state_shape", "Concat", [prefix + ".one", prefix + ".batch", prefix + ".one"], prefix + ".state_shape",
                    OnnxProto.IntAttribute("axis", 0));
                inputsOf.Add("");   // sequence_lens: every sequence full length
                for (int s = 4; s < slots.Length; s++)
                {
                    string name = prefix + "." + slots[s].Name[(slots[s].Name.LastIndexOf('.') + 1)..];   // h0, c0
                    Initializers.Add(new(name, [1, 1, h], [(slots[s].Offset, h)]));
                    Node(name + ".expand", "Expand", [name, prefix + ".state_shape"], name + ".batch");
                    inputsOf.Add(name + ".batch");
                }
            }
            var attributes = new List<byte[]> { OnnxProto.IntAttribute("hidden_size", h) };
            if (activation is not null) attributes.Add(OnnxProto.StringsAttribute("activations", [activation]));
            if (op == "GRU") attributes.Add(OnnxProto.IntAttribute("linear_before_reset", 1));   // b_hn inside r ⊙ (…), as PyTorch
            string[] outputs = layer.ReturnSequences ? [prefix + ".Y"] : ["", prefix + ".Y_h"];
            Node(prefix + "." + op.ToLowerInvariant(), op, [.. inputsOf], outputs, [.. attributes]);
            Node(prefix + ".axes", "Constant", [], prefix + ".axes", OnnxProto.IntsAttribute("value_ints", [layer.ReturnSequences ? 1 : 0]));
            Node(prefix + ".squeeze", "Squeeze", [outputs[^1], prefix + ".axes"], a);
        }

        /// <summary>The pieces of a [G·rows × …] tensor at <paramref name="offset"/> whose row blocks (each
        /// <paramref name="block"/> elements) are taken in <paramref name="order"/>.</summary>
        private static (int, int)[] Blocks(int[] order, int offset, int block)
        {
            var pieces = new (int, int)[order.Length];
            for (int k = 0; k < order.Length; k++) pieces[k] = (offset + order[k] * block, block);
            return pieces;
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
            Node(name, op, inputs, [output], attributes);

        private void Node(string name, string op, string[] inputs, string[] outputs, byte[][] attributes) =>
            Nodes.Add(OnnxProto.Encode(o =>
            {
                foreach (string input in inputs) OnnxProto.WriteString(o, OnnxProto.NodeInput, input);
                foreach (string output in outputs) OnnxProto.WriteString(o, OnnxProto.NodeOutput, output);
                OnnxProto.WriteString(o, OnnxProto.NodeName, name);
                OnnxProto.WriteString(o, OnnxProto.NodeOpType, op);
                foreach (byte[] attribute in attributes) OnnxProto.WriteMessage(o, OnnxProto.NodeAttribute, attribute);
            }));

        /// <summary>A float32 tensor [batch × <paramref name="width"/>] (with <paramref name="sequence"/>,
        /// [batch × time × width]), batch and time named dynamic dimensions.</summary>
        private static byte[] ValueInfo(string name, int width, bool sequence) => OnnxProto.Encode(o =>
        {
            OnnxProto.WriteString(o, OnnxProto.ValueInfoName, name);
            var dims = OnnxProto.Encode(s =>
            {
                OnnxProto.WriteMessage(s, OnnxProto.ShapeDim, OnnxProto.Encode(d => OnnxProto.WriteString(d, OnnxProto.DimParam, OnnxFile.BatchDimension)));
                if (sequence)
                    OnnxProto.WriteMessage(s, OnnxProto.ShapeDim, OnnxProto.Encode(d => OnnxProto.WriteString(d, OnnxProto.DimParam, OnnxFile.TimeDimension)));
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
            var fromTheta = graph.Initializers;
            int tensors = fromTheta.Count + graph.Constants.Count;
            var names = new string[tensors];
            var dims = new long[tensors][];
            var counts = new long[tensors];
            var headSizes = new long[tensors];
            for (int t = 0; t < tensors; t++)
            {
                if (t < fromTheta.Count) (names[t], dims[t], counts[t]) = (fromTheta[t].Name, fromTheta[t].Dims, fromTheta[t].Count);
                else (names[t], dims[t], counts[t]) = (graph.Constants[t - fromTheta.Count].Name, [], 1);   // a scalar: no dims
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
                if (t < fromTheta.Count)
                    foreach (var (start, length) in fromTheta[t].Pieces)
                        foreach (float v in _theta.Slice(start, length)) output.WriteFloat(v);   // fixed 4 bytes, little-endian
                else output.WriteFloat(graph.Constants[t - fromTheta.Count].Value);
            }
            OnnxProto.WriteMessage(output, OnnxProto.GraphInput, graph.Input);
            OnnxProto.WriteMessage(output, OnnxProto.GraphOutput, graph.Output);
            output.Flush();
        }

        private static long TensorSize(long head, long count) => head + OnnxProto.FieldSize(OnnxProto.TensorRawData, count * 4);
    }
}
