using System.Numerics;

namespace Backprop.Functional;

/// <summary>Writes networks of dense and recurrent (Rnn, Lstm, Gru) layers as standard ONNX models, for ONNX Runtime and every other ONNX consumer, and
/// reads dense ONNX models (such as PyTorch's exporter writes for an <c>nn.Sequential</c> of <c>nn.Linear</c> and
/// activations) back as networks.
/// <para>Threads: Save and Load may run on several threads at once; two saves to one path race, and the last rename wins
/// (each file complete). Save reads θ, so do not train the network while it saves.</para></summary>
/// <remarks>
/// <para>The file: IR version <see cref="IrVersion"/> (8), opset <see cref="Opset"/> (17) of the default domain, one graph
/// with input <see cref="InputName"/> <c>[batch × inputs]</c> and output <see cref="OutputName"/> <c>[batch × outputs]</c>,
/// both float32, <c>batch</c> a dynamic dimension. Layer l is a <c>Gemm(x, layers.l.weight, layers.l.bias)</c> with
/// transB = 1 (the weight initializer is Wˡ [outputs × inputs], the layout PyTorch and the model file use), then its
/// activation: Sigmoid, Tanh, Relu, LeakyRelu (alpha 0.01), Softplus and Softmax (axis 1) are one node each; Identity is
/// none; GELU (tanh form) is nine Mul/Add/Tanh nodes over scalar initializers <c>gelu.*</c> (opset 17 has no Gelu; the
/// composition is the function GELU computes, in its order). Initializers are float32 in raw_data; a double network is
/// rounded to float. metadata_props carry the loss (<c>backprop-functional.loss</c>) and the layer list.</para>
/// <para>Recurrent networks: the input is <c>[batch × time × inputs]</c> (the library's batch-first sequences, <c>time</c>
/// a dynamic dimension), transposed to time-major for ONNX's recurrent operators (ONNX Runtime's CPU kernels refuse
/// layout = 1) and, when the network ends in a sequence, back to <c>[batch × time × outputs]</c>. An <see cref="Rnn"/>,
/// <see cref="Lstm"/> or <see cref="Gru"/> is ONNX's RNN (activations Tanh or Relu), LSTM or GRU (linear_before_reset =
/// 1, PyTorch's b_hn inside the reset product) with W <c>[1 × G·H × I]</c>, R <c>[1 × G·H × H]</c> and B
/// <c>[1 × 2·G·H]</c> = [bias_ih | bias_hh], whose row blocks are reordered from PyTorch's gate order to ONNX's (LSTM
/// i, f, g, o → i, o, f, c; GRU r, z, n → z, r, h); then Squeeze of Y (a layer that returns sequences) or of Y_h (the
/// last state, for a head on the whole sequence). A learned h₀ (c₀) is an initializer <c>[1 × 1 × H]</c> expanded over
/// the batch into initial_h (initial_c); a zero one is omitted. A per-step dense layer is MatMul by the transposed
/// weight and Add. Every sequence is taken at full length (no sequence_lens): pad nothing, or run each length apart.</para>
/// <para>Layers this exporter has no ONNX form for — ODE blocks, custom kinds, a recurrent layer that carries its state
/// over between calls (<see cref="InitialState.Carried"/>) — are refused naming the layer; <see cref="CanSave"/> asks
/// first.</para>
/// <para>The encoding uses Google.Protobuf's <c>CodedOutputStream</c> and <c>CodedInputStream</c> with the field numbers
/// of onnx.proto: no generated classes and no reflection, so it runs under NativeAOT.</para>
/// </remarks>
/// <example><code>
/// OnnxFile.Save("mnist.onnx", net);                 // then: new InferenceSession("mnist.onnx") in ONNX Runtime
/// var model = OnnxFile.Load("torch_mlp.onnx");      // a PyTorch export of Linear/ReLU/Linear/Softmax
/// using var again = model.ToNetwork();
/// </code></example>
public static class OnnxFile
{
    /// <summary>The opset of the default ONNX domain that exported graphs import: 17 (ONNX 1.12).</summary>
    public const int Opset = 17;

    /// <summary>The ONNX IR version of exported files: 8, the one that goes with opset 17.</summary>
    public const int IrVersion = 8;

    /// <summary>The graph input's name: float32 <c>[batch × inputs]</c>.</summary>
    public const string InputName = "input";

    /// <summary>The graph output's name: float32 <c>[batch × outputs]</c>, the last layer's activation aᴸ.</summary>
    public const string OutputName = "output";

    /// <summary>The name (dim_param) of the dynamic batch dimension.</summary>
    public const string BatchDimension = "batch";

    /// <summary>The name (dim_param) of the dynamic time dimension of a sequence input or output
    /// <c>[batch × time × n]</c>.</summary>
    public const string TimeDimension = "time";

    /// <summary>ModelProto.producer_name of exported files.</summary>
    public const string ProducerName = "Backprop.Functional";

    /// <summary>GraphProto.name of exported files.</summary>
    public const string GraphName = "backprop_functional";

    /// <summary>The largest file <see cref="Load"/> reads: θ at <see cref="ParameterLayout.MaxCount"/> float32
    /// parameters plus 64 MB for the graph.</summary>
    public const long MaxFileBytes = ParameterLayout.MaxCount * 4L + (64L << 20);

    /// <summary>Whether <paramref name="spec"/> can be exported: every layer is <see cref="Dense"/> with a known
    /// activation, or an <see cref="Rnn"/>, <see cref="Lstm"/> or <see cref="Gru"/> whose initial state is zero or
    /// learned; otherwise false and the first layer that cannot, named.</summary>
    public static bool CanSave(NetworkSpec spec, out string reason)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return OnnxExport.CanExport(spec, out reason);
    }

    /// <summary>Writes <paramref name="network"/> to <paramref name="path"/> as an ONNX model.</summary>
    /// <inheritdoc cref="Save{T}(string, NetworkSpec, ReadOnlySpan{T})"/>
    public static void Save<T>(string path, Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        Save(path, network.Spec, network.Parameters);
    }

    /// <summary>Writes the network <paramref name="spec"/> with parameters θ to <paramref name="path"/> as an ONNX model,
    /// atomically: a temporary file next to it, flushed, then renamed over it.</summary>
    /// <param name="path">The file to write; replaced if it exists. Its directory must exist.</param>
    /// <param name="spec">The layers (dense and recurrent) and the loss (kept in metadata_props).</param>
    /// <param name="theta">θ, [<c>spec.Layout.Count</c>], in layout order; every element finite (double is rounded to float).</param>
    /// <exception cref="NotSupportedException">A layer has no ONNX form here (the message names it and its kind), or
    /// <typeparamref name="T"/> is neither float nor double. Nothing is written.</exception>
    /// <exception cref="ArgumentException">θ's length is not the layout's, or θ holds NaN or ±∞ (tensor and index named).</exception>
    /// <exception cref="IOException">Writing failed; an existing file at <paramref name="path"/> is unchanged.</exception>
    public static void Save<T>(string path, NetworkSpec spec, ReadOnlySpan<T> theta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(spec);
        SafeTensors.DTypeOf<T>("ONNX exports");
        if (!OnnxExport.CanExport(spec, out string reason)) throw new NotSupportedException($"{spec} cannot be exported to ONNX: {reason}");
        var layout = spec.Layout;
        if (theta.Length != layout.Count) Shapes.ThrowLengths("theta", theta.Length, $"the layout of {spec}", layout.Count);
        float[]? converted = null;
        if (typeof(T) != typeof(float))
        {
            converted = new float[theta.Length];
            for (int i = 0; i < theta.Length; i++) converted[i] = float.CreateSaturating(theta[i]);
        }
        ReadOnlySpan<float> values = converted ?? System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(theta);
        if (layout.FirstNonFinite(values, out _) is { } bad)
            throw new ArgumentException($"theta holds {bad}{(converted is null ? "" : " (as float)")}; an ONNX export stores finite parameters only", nameof(theta));
        OnnxExport.Write(path, spec, values);
    }

    /// <summary>Reads the dense network in the ONNX model at <paramref name="path"/>.</summary>
    /// <param name="path">An ONNX model (ModelProto) of at most <see cref="MaxFileBytes"/> bytes whose graph is a chain of
    /// dense layers: Gemm (any transB) or MatMul with an optional Add of a bias, weights as float32 initializers, each
    /// followed by element-wise nodes that compute one of the library's activations (PyTorch's nine-node tanh-GELU
    /// included) or by a Softmax on the last layer.</param>
    /// <param name="loss">The loss of the network; null: the one the file's metadata names (this library's exports),
    /// else SoftmaxCrossEntropy after a Softmax and Quadratic otherwise.</param>
    /// <returns>The spec, θ in layout order (weights [outputs × inputs]), and metadata <c>onnx.producer</c>, <c>onnx.opset</c>.</returns>
    /// <exception cref="InvalidDataException">The file is not an ONNX model this reads: truncated or corrupt protobuf
    /// (the byte offset named), too large, no graph, or a node that is not a dense layer or a known activation (the node's
    /// name and op named, with why). One line, starting with the path.</exception>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="loss"/> does not fit the output activation.</exception>
    public static LoadedModel<float> Load(string path, LossKind? loss = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
        {
            long length = file.CanSeek ? file.Length : -1;
            if (length > MaxFileBytes)
                throw SafeTensors.Bad(path, $"it is {length} bytes, more than the {MaxFileBytes} an ONNX model of at most {ParameterLayout.MaxCount} float32 parameters needs", kind: "ONNX model");
            if (length < 0) throw SafeTensors.Bad(path, "it cannot be read as a whole (not a regular file)", kind: "ONNX model");
            bytes = new byte[length];
            file.ReadExactly(bytes);
        }
        try
        {
            return OnnxImport.Build(OnnxReader.Read(bytes), loss);
        }
        catch (OnnxFormatException e)
        {
            throw SafeTensors.Bad(path, e.Message, e, kind: "ONNX model");
        }
    }
}
