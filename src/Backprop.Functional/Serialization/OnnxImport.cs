using System.Globalization;

namespace Backprop.Functional;

/// <summary>Turns a decoded ONNX graph into dense layers and θ, or refuses it naming the node it cannot take.</summary>
/// <remarks>
/// The graph is walked in its (topological) node order. A Gemm, or a MatMul with an optional Add of a bias, whose weight
/// is an initializer opens a dense layer. Between two such layers every node must be element-wise (Mul, Add, Tanh,
/// LeakyRelu, …, with scalar constants): together they compute one function σ(z) of the layer's z, which is evaluated
/// at 27 points from −20 to 20 and matched to the library's activations (within 10⁻⁶ relative). So PyTorch's tanh-GELU
/// (nine nodes), this library's own GELU export and a single Sigmoid node all import, while anything the library cannot
/// run — an erf-GELU, an Elu, a LeakyRelu of another slope — is refused naming its nodes and the nearest activation.
/// A Softmax on the last layer's z (axis 1 or −1) is that layer's output activation.
/// </remarks>
internal static class OnnxImport
{
    /// <summary>Most element-wise nodes between two dense layers (PyTorch's GELU takes nine).</summary>
    private const int MaxActivationNodes = 64;

    private static readonly double[] Probes =
        [-20, -8, -6, -4, -3, -2, -1.5, -1, -0.75, -0.5, -0.25, -0.1, -0.01, 0, 0.01, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 20];

    private static readonly ActivationKind[] ElementWise =
        [ActivationKind.Sigmoid, ActivationKind.Tanh, ActivationKind.ReLU, ActivationKind.LeakyReLU, ActivationKind.Softplus, ActivationKind.GELU];

    /// <summary>The network <paramref name="model"/> describes.</summary>
    /// <exception cref="OnnxFormatException">The graph is not a chain of dense layers with the library's activations.</exception>
    public static LoadedModel<float> Build(OnnxModelProto model, LossKind? loss)
    {
        var graph = model.Graph;
        long opset = -1;
        foreach (var (domain, version) in model.Opsets)
            if (domain is "" or "ai.onnx") opset = version;
        if (opset < 0) throw new OnnxFormatException("it imports no opset of the default ONNX domain (ModelProto.opset_import)");

        var initializers = new Dictionary<string, OnnxTensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializers) initializers[t.Name] = t;
        OnnxValueInfo? input = null;
        foreach (var i in graph.Inputs)
        {
            if (initializers.ContainsKey(i.Name)) continue;   // IR < 4 lists initializers among the inputs
            if (input is not null) throw new OnnxFormatException($"the graph has several inputs (\"{Short(input.Name)}\", \"{Short(i.Name)}\"); a network has one");
            input = i;
        }
        if (input is null) throw new OnnxFormatException("the graph has no input");
        if (input.ElemType is not (0 or OnnxProto.DataTypeFloat))
            throw new OnnxFormatException($"the graph input \"{Short(input.Name)}\" is not float32 (elem_type {input.ElemType})");
        if (input.Dims is { } inDims && inDims.Length != 2)
            throw new OnnxFormatException($"the graph input \"{Short(input.Name)}\" has rank {inDims.Length}; a network of dense layers reads [batch × features]");
        if (graph.Outputs.Count != 1) throw new OnnxFormatException($"the graph has {graph.Outputs.Count} outputs; a network has one");

        var walk = new Walk(initializers, opset);
        walk.Values[input.Name] = new Flow(-1, Var.Instance, []);
        foreach (var node in graph.Nodes) walk.Visit(node);

        var output = graph.Outputs[0];
        if (!walk.Values.TryGetValue(output.Name, out var last))
            throw new OnnxFormatException($"no node computes the graph output \"{Short(output.Name)}\"");
        if (walk.Layers.Count == 0) throw new OnnxFormatException("the graph has no dense layer (Gemm or MatMul with an initializer weight)");
        int top = walk.Layers.Count - 1;
        switch (last)
        {
            case Flow f when f.Layer == top: walk.Finish(top, f); break;
            case SoftmaxOf s when s.Layer == top: break;
            default: throw new OnnxFormatException($"the graph output \"{Short(output.Name)}\" is not the last dense layer's output");
        }

        if (input.Dims is { } d0 && d0[1] >= 0 && d0[1] != walk.Layers[0].Inputs)
            throw new OnnxFormatException($"the graph input \"{Short(input.Name)}\" has {d0[1]} features but the first layer reads {walk.Layers[0].Inputs}");
        if (output.Dims is { Length: 2 } d1 && d1[1] >= 0 && d1[1] != walk.Layers[top].Outputs)
            throw new OnnxFormatException($"the graph output \"{Short(output.Name)}\" has {d1[1]} features but the last layer gives {walk.Layers[top].Outputs}");

        var layers = new Layer[walk.Layers.Count];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = new Dense(walk.Layers[l].Inputs, walk.Layers[l].Outputs, walk.Layers[l].Activation!.Value);
        var spec = new NetworkSpec(layers, loss ?? LossOf(model, layers[^1].OutputActivation));
        var theta = new float[spec.Layout.Count];
        for (int l = 0; l < layers.Length; l++)
        {
            walk.Layers[l].Weight.CopyTo(spec.Layout.Weight(l).Of(theta.AsSpan()));
            walk.Layers[l].Bias?.CopyTo(spec.Layout.Bias(l).Of(theta.AsSpan()));
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["onnx.producer"] = model.Producer,
            ["onnx.opset"] = opset.ToString(CultureInfo.InvariantCulture),
        };
        return new LoadedModel<float>(spec, theta, metadata);
    }

    /// <summary>The loss the file names in its metadata (this library's exports do), else SoftmaxCrossEntropy for a
    /// Softmax output and Quadratic for any other.</summary>
    private static LossKind LossOf(OnnxModelProto model, ActivationKind output)
    {
        foreach (var (key, value) in model.Metadata)
            if (key == OnnxExport.LossKey && Enum.TryParse(value, ignoreCase: false, out LossKind kind) && Enum.IsDefined(kind)
                && LossDispatch.Fits(kind, output))
                return kind;
        return output == ActivationKind.Softmax ? LossKind.SoftmaxCrossEntropy : LossKind.Quadratic;
    }

    private static string Short(string name) => InputText.Excerpt(name);

    /// <summary>A value of the graph: an element-wise function of a layer's z (layer −1: of the graph input), a scalar
    /// constant, or the softmax of a layer's z.</summary>
    private abstract record Value;

    /// <summary>σ(base) for layer <paramref name="Layer"/>'s z (−1: the input), with the nodes that computed σ.</summary>
    private sealed record Flow(int Layer, Expr F, List<string> Nodes) : Value;

    private sealed record Scalar(double V) : Value;

    private sealed record SoftmaxOf(int Layer) : Value;

    /// <summary>An element-wise expression in z.</summary>
    private abstract record Expr;

    private sealed record Var : Expr
    {
        public static readonly Var Instance = new();
    }

    private sealed record Const(double V) : Expr;

    private sealed record Unary(string Op, Expr X, double Alpha) : Expr;

    private sealed record Binary(string Op, Expr A, Expr B) : Expr;

    private sealed class LayerBuild(int inputs, int outputs, float[] weight, float[]? bias, bool biasPending)
    {
        public int Inputs { get; } = inputs;
        public int Outputs { get; } = outputs;
        public float[] Weight { get; } = weight;   // [outputs × inputs]
        public float[]? Bias { get; set; } = bias;
        public bool BiasPending { get; set; } = biasPending;
        public bool Read { get; set; }
        public ActivationKind? Activation { get; set; }
    }

    private sealed class Walk(Dictionary<string, OnnxTensorProto> initializers, long opset)
    {
        public Dictionary<string, Value> Values { get; } = new(StringComparer.Ordinal);
        public List<LayerBuild> Layers { get; } = [];

        public void Visit(OnnxNodeProto node)
        {
            if (node.Domain is not ("" or "ai.onnx"))
                throw Refuse(node, $"is in operator domain \"{Short(node.Domain)}\", not the standard one");
            if (node.Outputs.Count == 0) throw Refuse(node, "has no output");
            switch (node.OpType)
            {
                case "Constant": Values[node.Outputs[0]] = new Scalar(ConstantOf(node)); break;
                case "Identity" or "Dropout": Values[node.Outputs[0]] = In(node, 0); break;
                case "Flatten":
                    if ((node.Attribute("axis")?.I ?? 1) != 1) throw Refuse(node, "flattens at an axis other than 1 (the input is [batch × features])");
                    Values[node.Outputs[0]] = In(node, 0);
                    break;
                case "Gemm": Dense(node, gemm: true); break;
                case "MatMul": Dense(node, gemm: false); break;
                case "Add" or "Sub" or "Mul" or "Div" or "Pow" or "Max" or "Min": BinaryNode(node); break;
                case "Tanh" or "Sigmoid" or "Relu" or "Softplus" or "Exp" or "Log" or "Neg" or "Abs" or "Sqrt" or "Reciprocal":
                    UnaryNode(node, 0);
                    break;
                case "LeakyRelu": UnaryNode(node, node.Attribute("alpha")?.F ?? 0.01f); break;
                case "Elu": UnaryNode(node, node.Attribute("alpha")?.F ?? 1f); break;
                case "Gelu":
                    if ((node.Attribute("approximate")?.S ?? "none") != "tanh")
                        throw Refuse(node, "is the exact (erf) GELU; the library's GELU is the tanh approximation (approximate=\"tanh\")");
                    UnaryNode(node, 0);
                    break;
                case "Erf": throw Refuse(node, "is part of the exact (erf) GELU; the library's GELU is the tanh approximation");
                case "Softmax": SoftmaxNode(node); break;
                default: throw Refuse(node, "is not a dense layer (Gemm, MatMul + Add) or an activation the library has");
            }
        }

        /// <summary>Fixes layer <paramref name="layer"/>'s activation from the element-wise function that follows it.</summary>
        public void Finish(int layer, Flow f)
        {
            if (layer < 0) return;
            Layers[layer].Activation = Match(f);
        }

        private void Dense(OnnxNodeProto node, bool gemm)
        {
            if (node.Inputs.Count < 2) throw Refuse(node, "has fewer than two inputs");
            if (In(node, 0) is not Flow x) throw Refuse(node, "does not read the previous layer's output");
            int previous = Layers.Count - 1;
            if (x.Layer != previous)
                throw Refuse(node, x.Layer < 0
                    ? "reads the graph input, which an earlier layer already reads: only a chain of dense layers imports"
                    : $"reads the output of layer {x.Layer}, which layer {x.Layer + 1} already reads: only a chain of dense layers imports");
            if (x.Layer < 0 && x.F is not Var)
                throw Refuse(node, $"reads the input after element-wise nodes ({string.Join(", ", x.Nodes)}); the library's first layer reads the input as it is");
            Finish(previous, x);
            if (previous >= 0) Layers[previous].Read = true;
            int inputs = previous < 0 ? -1 : Layers[previous].Outputs;

            bool transB = false;
            if (gemm)
            {
                if ((node.Attribute("alpha")?.F ?? 1f) != 1f || (node.Attribute("beta")?.F ?? 1f) != 1f)
                    throw Refuse(node, "scales by alpha or beta other than 1");
                if ((node.Attribute("transA")?.I ?? 0) != 0) throw Refuse(node, "transposes its input (transA = 1)");
                transB = (node.Attribute("transB")?.I ?? 0) != 0;
            }
            var w = Initializer(node, 1, "weight");
            if (w.Dims.Length != 2) throw Refuse(node, $"has a weight \"{Short(w.Name)}\" of rank {w.Dims.Length}, not a matrix");
            long rows = w.Dims[0], columns = w.Dims[1];
            long n = transB ? columns : rows, m = transB ? rows : columns;   // n inputs, m outputs
            if (n < 1 || m < 1 || n > int.MaxValue || m > int.MaxValue)
                throw Refuse(node, $"has a weight \"{Short(w.Name)}\" of shape [{rows}, {columns}]");
            if (inputs >= 0 && n != inputs)
                throw Refuse(node, $"reads {n} features but layer {previous} gives {inputs}");
            float[] data = Floats(node, w);
            float[] weight = data;
            if (!transB)   // ONNX's B is [inputs × outputs]: store it [outputs × inputs]
            {
                weight = new float[data.Length];
                for (long i = 0; i < n; i++)
                    for (long j = 0; j < m; j++) weight[j * n + i] = data[i * m + j];
            }
            float[]? bias = null;
            if (gemm && node.Inputs.Count > 2 && node.Inputs[2].Length > 0) bias = BiasOf(node, Initializer(node, 2, "bias"), (int)m);
            Layers.Add(new LayerBuild((int)n, (int)m, weight, bias, biasPending: !gemm));
            Values[node.Outputs[0]] = new Flow(Layers.Count - 1, Var.Instance, []);
        }

        private void BinaryNode(OnnxNodeProto node)
        {
            if (node.Inputs.Count != 2) throw Refuse(node, $"has {node.Inputs.Count} inputs, not 2");
            // MatMul + Add: the Add of a vector to a MatMul's plain output is that layer's bias.
            if (node.OpType == "Add" && Layers.Count > 0 && Layers[^1].BiasPending)
                for (int side = 0; side < 2; side++)
                    if (Values.TryGetValue(node.Inputs[side], out var v) && v is Flow { F: Var } f && f.Layer == Layers.Count - 1
                        && initializers.TryGetValue(node.Inputs[1 - side], out var b) && b.Dims.Length >= 1 && b.Count(int.MaxValue) == Layers[^1].Outputs)
                    {
                        var layer = Layers[^1];
                        layer.Bias = BiasOf(node, b, layer.Outputs);
                        layer.BiasPending = false;
                        Values[node.Outputs[0]] = f;
                        return;
                    }
            var a = In(node, 0);
            var c = In(node, 1);
            if (a is Scalar sa && c is Scalar sc)
            {
                Values[node.Outputs[0]] = new Scalar(Evaluate(new Binary(node.OpType, new Const(sa.V), new Const(sc.V)), 0, null));
                return;
            }
            int layerIndex = a is Flow fa ? fa.Layer : c is Flow fc ? fc.Layer : int.MinValue;
            if (a is Flow f1 && c is Flow f2 && f1.Layer != f2.Layer)
                throw Refuse(node, $"combines the outputs of layers {Math.Min(f1.Layer, f2.Layer)} and {Math.Max(f1.Layer, f2.Layer)} (a skip connection): only a chain of dense layers imports");
            Flow through = Extend(node, layerIndex, a, c);
            Values[node.Outputs[0]] = through with { F = new Binary(node.OpType, ExprOf(node, a), ExprOf(node, c)) };
        }

        private void UnaryNode(OnnxNodeProto node, double alpha)
        {
            var x = In(node, 0);
            if (x is Scalar s)
            {
                Values[node.Outputs[0]] = new Scalar(Evaluate(new Unary(node.OpType, new Const(s.V), alpha), 0, null));
                return;
            }
            if (x is not Flow f) throw Refuse(node, "applies an element-wise function to a softmax output");
            Values[node.Outputs[0]] = Extend(node, f.Layer, f) with { F = new Unary(node.OpType, f.F, alpha) };
        }

        private void SoftmaxNode(OnnxNodeProto node)
        {
            if (In(node, 0) is not Flow { F: Var } f || f.Layer < 0 || f.Layer != Layers.Count - 1)
                throw Refuse(node, "is not applied to a dense layer's output z directly");
            long axis = node.Attribute("axis")?.I ?? (opset >= 13 ? -1 : 1);
            if (axis is not (1 or -1)) throw Refuse(node, $"normalises along axis {axis}; the library's Softmax normalises each row (axis 1)");
            Layers[f.Layer].Activation = ActivationKind.Softmax;
            Layers[f.Layer].BiasPending = false;
            Values[node.Outputs[0]] = new SoftmaxOf(f.Layer);
        }

        /// <summary>The flow that <paramref name="node"/> continues, with the node recorded (at most <see cref="MaxActivationNodes"/>).</summary>
        private Flow Extend(OnnxNodeProto node, int layer, params Value[] operands)
        {
            Flow? source = null;
            foreach (var v in operands)
                if (v is Flow f && (source is null || f.Nodes.Count > source.Nodes.Count)) source = f;
            if (source is null) throw Refuse(node, "reads no layer output");
            if (source.Nodes.Count >= MaxActivationNodes)
                throw Refuse(node, $"is one of more than {MaxActivationNodes} element-wise nodes after a layer; an activation takes fewer");
            if (layer >= 0 && layer == Layers.Count - 1) Layers[layer].BiasPending = false;   // bias comes first or not at all
            return source with { Nodes = [.. source.Nodes, node.Label] };
        }

        private static Expr ExprOf(OnnxNodeProto node, Value v) => v switch
        {
            Flow f => f.F,
            Scalar s => new Const(s.V),
            _ => throw Refuse(node, "applies an element-wise function to a softmax output"),
        };

        /// <summary>The value of input <paramref name="index"/>: a graph value, or a one-element initializer as a scalar.</summary>
        private Value In(OnnxNodeProto node, int index)
        {
            if (index >= node.Inputs.Count) throw Refuse(node, $"has no input {index}");
            string name = node.Inputs[index];
            if (Values.TryGetValue(name, out var v)) return v;
            if (initializers.TryGetValue(name, out var t))
            {
                if (t.Count(int.MaxValue) != 1)
                    throw Refuse(node, $"reads the tensor \"{Short(name)}\" [{string.Join(", ", t.Dims)}] where the library has no per-unit parameter");
                return new Scalar(Floats(node, t)[0]);
            }
            throw Refuse(node, $"reads \"{Short(name)}\", which no earlier node computes");
        }

        private OnnxTensorProto Initializer(OnnxNodeProto node, int index, string what)
        {
            if (index >= node.Inputs.Count || !initializers.TryGetValue(node.Inputs[index], out var t))
                throw Refuse(node, $"has a {what} that is not an initializer (a constant tensor in the file)");
            return t;
        }

        private static float[] BiasOf(OnnxNodeProto node, OnnxTensorProto b, int outputs)
        {
            bool vector = b.Dims.Length == 1 || (b.Dims.Length == 2 && b.Dims[0] == 1);
            if (!vector || b.Dims[^1] != outputs)
                throw Refuse(node, $"adds a bias \"{Short(b.Name)}\" of shape [{string.Join(", ", b.Dims)}] to {outputs} outputs");
            return Floats(node, b);
        }

        private static float[] Floats(OnnxNodeProto node, OnnxTensorProto t)
        {
            long count = t.Count(ParameterLayout.MaxCount);
            if (count < 0)
                throw Refuse(node, $"reads the tensor \"{Short(t.Name)}\" of shape [{string.Join(", ", t.Dims)}], more than {ParameterLayout.MaxCount} elements");
            var values = t.Floats(count, out string reason) ?? throw Refuse(node, $"reads the tensor \"{Short(t.Name)}\", but {reason}");
            for (int i = 0; i < values.Length; i++)
                if (!float.IsFinite(values[i]))
                    throw Refuse(node, $"reads the tensor \"{Short(t.Name)}\", which holds {values[i].ToString(CultureInfo.InvariantCulture)} at index {i}; parameters must be finite");
            return values;
        }

        private static double ConstantOf(OnnxNodeProto node)
        {
            var value = node.Attribute("value");
            if (value?.T is { } t && t.Count(int.MaxValue) == 1) return Floats(node, t)[0];
            if (node.Attribute("value_float") is { } f) return f.F;
            throw Refuse(node, "is not a float32 scalar constant");
        }

        private static ActivationKind Match(Flow f)
        {
            if (f.F is Var) return ActivationKind.Identity;
            ActivationKind best = ActivationKind.Identity;
            double bestError = double.PositiveInfinity, bestAt = 0;
            var memo = new Dictionary<Expr, double>(ReferenceEqualityComparer.Instance);
            foreach (var kind in ElementWise)
            {
                double error = 0, at = 0;
                foreach (double z in Probes)
                {
                    memo.Clear();
                    double got = Evaluate(f.F, z, memo), want = ActivationValue(kind, z);
                    double e = double.IsFinite(got) ? Math.Abs(got - want) / (1 + Math.Abs(want)) : double.PositiveInfinity;
                    if (!(e <= error)) (error, at) = (e, z);
                }
                if (error < bestError) (best, bestError, bestAt) = (kind, error, at);
            }
            if (bestError <= 1e-6) return best;
            string nodes = f.Nodes.Count == 1 ? $"node {f.Nodes[0]}" : $"nodes {f.Nodes[0]} … {f.Nodes[^1]}";
            throw new OnnxFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{nodes} compute an element-wise function that is none of the library's activations (Sigmoid, Tanh, ReLU, LeakyReLU with slope 0.01, Softplus, tanh-GELU); the nearest, {best}, differs by {bestError:G3} at z = {bestAt}"));
        }

        private static double ActivationValue(ActivationKind kind, double z) => kind switch
        {
            ActivationKind.Sigmoid => Sigmoid.Value(z),
            ActivationKind.Tanh => Tanh.Value(z),
            ActivationKind.ReLU => ReLU.Value(z),
            ActivationKind.LeakyReLU => LeakyReLU.Value(z),
            ActivationKind.Softplus => Softplus.Value(z),
            ActivationKind.GELU => GELU.Value(z),
            _ => z,
        };

        /// <summary>e(z) in double, each shared sub-expression once (memo by reference).</summary>
        private static double Evaluate(Expr e, double z, Dictionary<Expr, double>? memo)
        {
            if (memo is not null && memo.TryGetValue(e, out double known)) return known;
            double v = e switch
            {
                Var => z,
                Const c => c.V,
                Unary u => Apply(u.Op, Evaluate(u.X, z, memo), u.Alpha),
                Binary b => Apply(b.Op, Evaluate(b.A, z, memo), Evaluate(b.B, z, memo)),
                _ => double.NaN,
            };
            memo?.Add(e, v);
            return v;
        }

        private static double Apply(string op, double x, double alpha) => op switch
        {
            "Tanh" => Math.Tanh(x),
            "Sigmoid" => 1 / (1 + Math.Exp(-x)),
            "Relu" => Math.Max(x, 0),
            "LeakyRelu" => x >= 0 ? x : alpha * x,
            "Elu" => x >= 0 ? x : alpha * (Math.Exp(x) - 1),
            "Softplus" => Softplus.Value(x),
            "Gelu" => GELU.Value(x),
            "Exp" => Math.Exp(x),
            "Log" => Math.Log(x),
            "Neg" => -x,
            "Abs" => Math.Abs(x),
            "Sqrt" => Math.Sqrt(x),
            "Reciprocal" => 1 / x,
            // binary ops: alpha is the second operand
            "Add" => x + alpha,
            "Sub" => x - alpha,
            "Mul" => x * alpha,
            "Div" => x / alpha,
            "Pow" => Math.Pow(x, alpha),
            "Max" => Math.Max(x, alpha),
            "Min" => Math.Min(x, alpha),
            _ => double.NaN,
        };

        private static OnnxFormatException Refuse(OnnxNodeProto node, string reason) => new($"node {node.Label} {reason}");
    }
}
