using Backprop.Functional.Generators.Helpers;
using Backprop.Functional.Generators.Model;

namespace Backprop.Functional.Generators;

public sealed partial class NetworkGenerator
{
    /// <summary>The layers' own loops: per-layer methods with constant trip counts for one sample, and the fused Adam
    /// update. Text only, like the rest of <see cref="Emit"/>.</summary>
    internal static partial class Emit
    {
        /// <summary>
        /// A layer with at most this many weights (outputs × inputs) gets its own one-sample BP2 (Hidden{l}); larger ones
        /// call the shared <c>Equations.HiddenError</c>. The one-sample forward (Forward{l}, a GEMV four rows at a time)
        /// and the Adam update (Update{l}, ∂C/∂Wˡ formed inside it) are generated for every layer whatever its size:
        /// on 784-32-10 (first layer 25,088 weights, above this threshold) the generated forward took 1.9 µs against the
        /// shared GEMV's 2.3 µs (bench/RESULTS.md, "Generated kernels"), so the forward needs no threshold. 4,096 floats
        /// are 16 KiB: Wˡ and the activations fit a 32 KiB L1d; the BP2 threshold itself is chosen, not measured.
        /// </summary>
        internal const int SmallLayerWeights = 4096;

        /// <summary>Whether layer <paramref name="d"/> gets its own loops.</summary>
        internal static bool IsSmall(LayerModel d) => (long)d.Inputs * d.Outputs <= SmallLayerWeights;

        private const string Span = "global::System.Span<T>";
        private const string ReadOnly = "global::System.ReadOnlySpan<T>";
        private const string Marshal = "global::System.Runtime.InteropServices.MemoryMarshal";
        private const string Unsafe = "global::System.Runtime.CompilerServices.Unsafe";
        private const string Inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";

        /// <summary>"⁰", "¹²" …: a layer index as a superscript, for the doc comments' equations.</summary>
        internal static string Sup(int l)
        {
            const string digits = "⁰¹²³⁴⁵⁶⁷⁸⁹";
            var text = "";
            foreach (char c in l.ToString()) text += digits[c - '0'];
            return text;
        }

        /// <summary>Layer l's named constants: LayerNInputs, LayerNOutputs, WNOffset, BNOffset.</summary>
        internal static void Constants(CodeWriter w, EquatableArray<LayerModel> layers)
        {
            for (int l = 0; l < layers.Count; l++)
            {
                var d = layers[l];
                string previous = l == 0 ? "0" : "B" + (l - 1) + "Offset + Layer" + (l - 1) + "Outputs";
                w.Line("private const int Layer" + l + "Inputs = " + d.Inputs + ", Layer" + l + "Outputs = " + d.Outputs + ";");
                w.Line("private const int W" + l + "Offset = " + previous + ", B" + l + "Offset = W" + l + "Offset + Layer" + l + "Inputs * Layer" + l + "Outputs;");
            }
            w.Line();
        }

        /// <summary>Forward{l}: zˡ = Wˡaˡ⁻¹ + bˡ four rows at a time (x read once for the four, four independent sums; each
        /// row's sum in <c>Dot</c>'s order), the bias added to each dot product, then aˡ = σ(zˡ).</summary>
        internal static void ForwardMethod(CodeWriter w, LayerModel d, int l)
        {
            string s = Sup(l), sp = l == 0 ? "" : Sup(l - 1);
            string input = l == 0 ? "x" : "a" + sp;
            string n = "Layer" + l + "Inputs", o = "Layer" + l + "Outputs";
            w.Line("/// <summary>Layer " + l + " on one sample: z" + s + "ⱼ = Σᵢ W" + s + "ⱼᵢ " + input + "ᵢ + b" + s + "ⱼ, a" + s + " = " + d.Activation + "(z" + s + ");");
            w.Line("/// " + d.Outputs + " dot products of " + d.Inputs + " (constant trip counts), four rows at a time, the bias in each, then σ over the " + d.Outputs + " values.</summary>");
            w.Line("private static void Forward" + l + "<T>(" + ReadOnly + " theta, " + ReadOnly + " x, " + Span + " z, " + Span + " a)");
            w.Line("    " + Constraint);
            w.Line("{");
            w.Line("    ref T bias = ref " + Marshal + ".GetReference(theta.Slice(B" + l + "Offset, " + o + "));");
            w.Line("    ref T weight = ref " + Marshal + ".GetReference(theta.Slice(W" + l + "Offset, " + n + " * " + o + "));");
            w.Line("    ref T input = ref " + Marshal + ".GetReference(x.Slice(0, " + n + "));");
            w.Line("    z = z.Slice(0, " + o + ");");
            w.Line("    ref T sum = ref " + Marshal + ".GetReference(z);");
            w.Line("    int j = 0;");
            w.Line("    for (; j <= " + o + " - 4; j += 4)");
            w.Line("        Dot4<T>(ref " + Unsafe + ".Add(ref weight, j * " + n + "), ref input, " + n + ", ref " + Unsafe + ".Add(ref bias, j), ref " + Unsafe + ".Add(ref sum, j));");
            w.Line("    for (; j < " + o + "; j++)");
            w.Line("        " + Unsafe + ".Add(ref sum, j) = " + Unsafe + ".Add(ref bias, j) + Dot<T>(ref " + Unsafe + ".Add(ref weight, j * " + n + "), ref input, " + n + ");");
            w.Line("    " + Lib + d.Activation + ".Apply<T>(z, a.Slice(0, " + o + "), " + o + ");");
            w.Line("}");
            w.Line();
        }

        /// <summary>Hidden{l}: δˡ⁻¹ = (Wˡ)ᵀδˡ ⊙ σ′(zˡ⁻¹), Wˡ read row by row (each row scaled by δˡᵣ and added).</summary>
        internal static void HiddenMethod(CodeWriter w, LayerModel d, string belowActivation, int l)
        {
            string s = Sup(l), sp = Sup(l - 1);
            w.Line("/// <summary>BP2 below layer " + l + " on one sample: δ" + sp + " = (W" + s + ")ᵀδ" + s + " ⊙ " + belowActivation + "′(z" + sp + ");");
            w.Line("/// " + d.Outputs + " rows of W" + s + " (" + d.Inputs + " wide, constant trip counts) scaled by δ" + s + "ᵣ and summed, then σ′ in place.</summary>");
            w.Line("private static void Hidden" + l + "<T>(" + ReadOnly + " theta, " + ReadOnly + " deltaNext, " + ReadOnly + " z, " + ReadOnly + " a, " + Span + " delta)");
            w.Line("    " + Constraint);
            w.Line("{");
            w.Line("    var next = deltaNext.Slice(0, Layer" + l + "Outputs);");
            w.Line("    ref T weight = ref " + Marshal + ".GetReference(theta.Slice(W" + l + "Offset, Layer" + l + "Inputs * Layer" + l + "Outputs));");
            w.Line("    delta = delta.Slice(0, Layer" + l + "Inputs);");
            w.Line("    delta.Clear();");
            w.Line("    ref T u = ref " + Marshal + ".GetReference(delta);");
            w.Line("    for (int r = 0; r < Layer" + l + "Outputs; r++)");
            w.Line("        AddScaled<T>(ref u, next[r], ref " + Unsafe + ".Add(ref weight, r * Layer" + l + "Inputs), Layer" + l + "Inputs);");
            w.Line("    " + Lib + belowActivation + ".Backward<T>(z.Slice(0, Layer" + l + "Inputs), a.Slice(0, Layer" + l + "Inputs), delta, delta, Layer" + l + "Inputs);");
            w.Line("}");
            w.Line();
        }

        /// <summary>Layers narrower than this many inputs, with at most <see cref="FlatUpdateParameters"/> parameters, form their
        /// ∂C/∂θˡ on the stack and update it in one flat run: rows of 2 or 4 weights would otherwise run Adam's square root and
        /// division one element at a time in every row's scalar tail.</summary>
        internal const int NarrowInputs = 8;

        /// <summary>The largest layer (Wˡ and bˡ) whose gradient a narrow layer forms on the stack: 1,024 values, 4 KiB of float.</summary>
        internal const int FlatUpdateParameters = 1024;

        /// <summary>Whether layer <paramref name="d"/>'s one-sample update runs flat over a stacked gradient.</summary>
        internal static bool IsFlatUpdate(LayerModel d) => d.Inputs < NarrowInputs && d.ParameterCount <= FlatUpdateParameters;

        /// <summary>Update{l}: Adam on layer l of one sample with ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ and ∂C/∂bˡ = δˡ formed in registers
        /// (or, for a narrow layer, on the stack, then one flat run).</summary>
        internal static void UpdateMethod(CodeWriter w, LayerModel d, int l)
        {
            string s = Sup(l), input = l == 0 ? "x" : "a" + Sup(l - 1);
            string n = "Layer" + l + "Inputs", o = "Layer" + l + "Outputs";
            bool flat = IsFlatUpdate(d);
            w.Line("/// <summary>Adam on layer " + l + " of one sample, g = ∂C/∂W" + s + "ᵣᵢ = δ" + s + "ᵣ" + input + "ᵢ (+ λθ) "
                + (flat ? "formed on the stack (rows of " + d.Inputs + " are narrower than a vector), then ∂C/∂b" + s + " = δ" + s + " after them:"
                        : "formed as read and never stored, then ∂C/∂b" + s + " = δ" + s + ":"));
            w.Line("/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η̂m/(√v·ĉ + ε); "
                + (flat ? "one run over the " + d.ParameterCount + " parameters.</summary>" : d.Outputs + " rows of " + d.Inputs + ", then " + d.Outputs + " biases.</summary>"));
            w.Line("private static void Update" + l + "<T>(" + Span + " theta, " + Span + " m, " + Span + " v, " + ReadOnly + " delta, " + ReadOnly + " x, in AdamStep<T> c)");
            w.Line("    " + Constraint);
            w.Line("{");
            w.Line("    const int Count = " + n + " * " + o + " + " + o + ";");
            w.Line("    ref T th = ref " + Marshal + ".GetReference(theta.Slice(W" + l + "Offset, Count));");
            w.Line("    ref T m1 = ref " + Marshal + ".GetReference(m.Slice(W" + l + "Offset, Count));");
            w.Line("    ref T v1 = ref " + Marshal + ".GetReference(v.Slice(W" + l + "Offset, Count));");
            w.Line("    ref T input = ref " + Marshal + ".GetReference(x.Slice(0, " + n + "));");
            w.Line("    ref T d = ref " + Marshal + ".GetReference(delta.Slice(0, " + o + "));");
            w.Line("    const int Bias = " + n + " * " + o + ";");
            if (flat)
            {
                w.Line("    global::System.Span<T> gradient = stackalloc T[Count];");
                w.Line("    ref T g = ref " + Marshal + ".GetReference(gradient);");
                w.Line("    for (int r = 0; r < " + o + "; r++)");
                w.Line("    {");
                w.Line("        T dr = " + Unsafe + ".Add(ref d, r);");
                w.Line("        for (int i = 0; i < " + n + "; i++)");
                w.Line("            " + Unsafe + ".Add(ref g, r * " + n + " + i) = dr * " + Unsafe + ".Add(ref input, i);");
                w.Line("        " + Unsafe + ".Add(ref g, Bias + r) = dr;");
                w.Line("    }");
                w.Line("    AdamRow<T>(ref th, ref m1, ref v1, T.One, ref g, Count, in c);   // 1·g = g exactly");
            }
            else
            {
                w.Line("    for (int r = 0; r < " + o + "; r++)");
                w.Line("    {");
                w.Line("        int at = r * " + n + ";");
                w.Line("        AdamRow<T>(ref " + Unsafe + ".Add(ref th, at), ref " + Unsafe + ".Add(ref m1, at), ref " + Unsafe + ".Add(ref v1, at), " + Unsafe + ".Add(ref d, r), ref input, " + n + ", in c);");
                w.Line("    }");
                w.Line("    AdamRow<T>(ref " + Unsafe + ".Add(ref th, Bias), ref " + Unsafe + ".Add(ref m1, Bias), ref " + Unsafe + ".Add(ref v1, Bias), T.One, ref d, " + o + ", in c);");
            }
            w.Line("}");
            w.Line();
        }

        /// <summary>The class-local vector helpers, each with its widths chosen by JIT/AOT constants.</summary>
        internal static void Helpers(CodeWriter w)
        {
            foreach (var line in DotText.Split('\n')) w.Line(line);
            w.Line();
            foreach (var line in AdamText.Split('\n')) w.Line(line);
            w.Line();
        }

        private const string V = "global::System.Runtime.Intrinsics.";
        private const string Lu = ".LoadUnsafe(ref ";

        /// <summary>Dot and AddScaled: Vector512, 256, 128 or scalar by <c>IsHardwareAccelerated</c> (constants to the JIT
        /// and to ILC for its target), a scalar tail; with a constant n the branches and loops fold away.</summary>
        private static readonly string DotText = string.Join("\n", new[]
        {
            "/// <summary>Σᵢ wᵢxᵢ over n elements: one accumulator of the widest accelerated vector, its lanes summed, then a scalar tail.</summary>",
            Inline,
            "private static T Dot<T>(ref T w, ref T x, int n)",
            "    " + Constraint,
            "{",
            "    T sum = T.Zero;",
            "    int i = 0;",
            "    if (" + V + "Vector512.IsHardwareAccelerated && " + V + "Vector512<T>.IsSupported && n >= " + V + "Vector512<T>.Count)",
            "    {",
            "        var acc = " + V + "Vector512<T>.Zero;",
            "        for (; i <= n - " + V + "Vector512<T>.Count; i += " + V + "Vector512<T>.Count)",
            "            acc += " + V + "Vector512" + Lu + "w, (nuint)i) * " + V + "Vector512" + Lu + "x, (nuint)i);",
            "        sum = HorizontalSum<T>(acc);",
            "    }",
            "    else if (" + V + "Vector256.IsHardwareAccelerated && " + V + "Vector256<T>.IsSupported && n >= " + V + "Vector256<T>.Count)",
            "    {",
            "        var acc = " + V + "Vector256<T>.Zero;",
            "        for (; i <= n - " + V + "Vector256<T>.Count; i += " + V + "Vector256<T>.Count)",
            "            acc += " + V + "Vector256" + Lu + "w, (nuint)i) * " + V + "Vector256" + Lu + "x, (nuint)i);",
            "        sum = HorizontalSum<T>(acc);",
            "    }",
            "    else if (" + V + "Vector128.IsHardwareAccelerated && " + V + "Vector128<T>.IsSupported && n >= " + V + "Vector128<T>.Count)",
            "    {",
            "        var acc = " + V + "Vector128<T>.Zero;",
            "        for (; i <= n - " + V + "Vector128<T>.Count; i += " + V + "Vector128<T>.Count)",
            "            acc += " + V + "Vector128" + Lu + "w, (nuint)i) * " + V + "Vector128" + Lu + "x, (nuint)i);",
            "        sum = HorizontalSum<T>(acc);",
            "    }",
            "    for (; i < n; i++)",
            "        sum += " + Unsafe + ".Add(ref w, i) * " + Unsafe + ".Add(ref x, i);",
            "    return sum;",
            "}",
            "",
            "/// <summary>The lanes of a 512-bit sum added: its 256-bit halves added, then as the 256-bit overload.",
            "/// (Vector512.Sum reduces each half to a scalar in a chain of ≈ 24 shuffles and adds; folding the halves first takes 8.)</summary>",
            Inline,
            "private static T HorizontalSum<T>(" + V + "Vector512<T> a)",
            "    " + Constraint + " =>",
            "    HorizontalSum<T>(" + V + "Vector512.GetLower(a) + " + V + "Vector512.GetUpper(a));",
            "",
            "/// <summary>The lanes of a 256-bit sum added: its 128-bit halves added, then Vector128.Sum.</summary>",
            Inline,
            "private static T HorizontalSum<T>(" + V + "Vector256<T> a)",
            "    " + Constraint + " =>",
            "    " + V + "Vector128.Sum(" + V + "Vector256.GetLower(a) + " + V + "Vector256.GetUpper(a));",
            "",
            "/// <summary>The lanes of a 128-bit sum added (Vector128.Sum).</summary>",
            Inline,
            "private static T HorizontalSum<T>(" + V + "Vector128<T> a)",
            "    " + Constraint + " =>",
            "    " + V + "Vector128.Sum(a);",
            "",
            "/// <summary>zⱼ = bⱼ + Σᵢ wⱼᵢxᵢ for four rows j of n (stride n) at once: four accumulators of the widest accelerated vector,",
            "/// x loaded once for the four; each row's lanes summed then its scalar tail, as <see cref=\"Dot{T}\"/> sums one row.",
            "/// A vector of x that is all zeros is skipped: its products are ±0, which leave a sum that started at +0 as it was (W finite).</summary>",
            Inline,
            "private static void Dot4<T>(ref T w, ref T x, int n, ref T b, ref T z)",
            "    " + Constraint,
            "{",
            "    ref T w1 = ref " + Unsafe + ".Add(ref w, n);",
            "    ref T w2 = ref " + Unsafe + ".Add(ref w, 2 * n);",
            "    ref T w3 = ref " + Unsafe + ".Add(ref w, 3 * n);",
            "    T s0 = T.Zero, s1 = T.Zero, s2 = T.Zero, s3 = T.Zero;",
            "    int i = 0;",
            Dot4Block("512", ""),
            Dot4Block("256", "else "),
            Dot4Block("128", "else "),
            "    for (; i < n; i++)",
            "    {",
            "        T xi = " + Unsafe + ".Add(ref x, i);",
            "        s0 += " + Unsafe + ".Add(ref w, i) * xi;",
            "        s1 += " + Unsafe + ".Add(ref w1, i) * xi;",
            "        s2 += " + Unsafe + ".Add(ref w2, i) * xi;",
            "        s3 += " + Unsafe + ".Add(ref w3, i) * xi;",
            "    }",
            "    z = b + s0;",
            "    " + Unsafe + ".Add(ref z, 1) = " + Unsafe + ".Add(ref b, 1) + s1;",
            "    " + Unsafe + ".Add(ref z, 2) = " + Unsafe + ".Add(ref b, 2) + s2;",
            "    " + Unsafe + ".Add(ref z, 3) = " + Unsafe + ".Add(ref b, 3) + s3;",
            "}",
            "",
            "/// <summary>uᵢ += s·wᵢ over n elements (a row of Wˡ scaled by δˡᵣ into (Wˡ)ᵀδˡ), widest accelerated vector, then a scalar tail.</summary>",
            Inline,
            "private static void AddScaled<T>(ref T u, T s, ref T w, int n)",
            "    " + Constraint,
            "{",
            "    int i = 0;",
            "    if (" + V + "Vector512.IsHardwareAccelerated && " + V + "Vector512<T>.IsSupported && n >= " + V + "Vector512<T>.Count)",
            "    {",
            "        var sv = " + V + "Vector512.Create(s);",
            "        for (; i <= n - " + V + "Vector512<T>.Count; i += " + V + "Vector512<T>.Count)",
            "            " + V + "Vector512.StoreUnsafe(" + V + "Vector512" + Lu + "u, (nuint)i) + sv * " + V + "Vector512" + Lu + "w, (nuint)i), ref u, (nuint)i);",
            "    }",
            "    else if (" + V + "Vector256.IsHardwareAccelerated && " + V + "Vector256<T>.IsSupported && n >= " + V + "Vector256<T>.Count)",
            "    {",
            "        var sv = " + V + "Vector256.Create(s);",
            "        for (; i <= n - " + V + "Vector256<T>.Count; i += " + V + "Vector256<T>.Count)",
            "            " + V + "Vector256.StoreUnsafe(" + V + "Vector256" + Lu + "u, (nuint)i) + sv * " + V + "Vector256" + Lu + "w, (nuint)i), ref u, (nuint)i);",
            "    }",
            "    else if (" + V + "Vector128.IsHardwareAccelerated && " + V + "Vector128<T>.IsSupported && n >= " + V + "Vector128<T>.Count)",
            "    {",
            "        var sv = " + V + "Vector128.Create(s);",
            "        for (; i <= n - " + V + "Vector128<T>.Count; i += " + V + "Vector128<T>.Count)",
            "            " + V + "Vector128.StoreUnsafe(" + V + "Vector128" + Lu + "u, (nuint)i) + sv * " + V + "Vector128" + Lu + "w, (nuint)i), ref u, (nuint)i);",
            "    }",
            "    for (; i < n; i++)",
            "        " + Unsafe + ".Add(ref u, i) += s * " + Unsafe + ".Add(ref w, i);",
            "}",
        });

        /// <summary>The Adam step's scalars and its row loop: the operations of the library's Adam, in its order
        /// (gᵢ = d·aᵢ + λθᵢ; m; v; θ − (η̂·m)/(√v·ĉ + ε)), element-wise, so every width gives the same bits.</summary>
        private static readonly string AdamText = string.Join("\n", new[]
        {
            "/// <summary>One Adam step's scalars (t = state.Step + 1): β₁, 1 − β₁, β₂, 1 − β₂, η̂ = η/(1 − β₁ᵗ), ĉ = 1/√(1 − β₂ᵗ), ε, λ;",
            "/// computed as the library's Adam computes them, in double, then rounded to T.</summary>",
            "private readonly struct AdamStep<T>",
            "    " + Constraint,
            "{",
            "    public readonly T B1, OneMinusB1, B2, OneMinusB2, StepSize, InvSqrtBc2, Eps, Lambda;",
            "",
            "    public AdamStep(" + Lib + "Adam h, long t, double learningRate)",
            "    {",
            "        B1 = T.CreateTruncating(h.Beta1);",
            "        OneMinusB1 = T.CreateTruncating(1 - h.Beta1);",
            "        B2 = T.CreateTruncating(h.Beta2);",
            "        OneMinusB2 = T.CreateTruncating(1 - h.Beta2);",
            "        StepSize = T.CreateTruncating(learningRate / OneMinusPower(h.Beta1, t));",
            "        InvSqrtBc2 = T.CreateTruncating(1 / global::System.Math.Sqrt(OneMinusPower(h.Beta2, t)));",
            "        Eps = T.CreateTruncating(h.Epsilon);",
            "        Lambda = T.CreateTruncating(h.WeightDecay);",
            "    }",
            "",
            "    /// <summary>1 − βᵗ as the library computes it, 1 − Math.Pow(β, t), without the Math.Pow (70–80 ns a pair at large t) once",
            "    /// βᵗ < 2⁻⁶⁰: then 1 − βᵗ rounds to 1 exactly (anything ≤ 2⁻⁵⁴ does), so the bits are the same.</summary>",
            "    private static double OneMinusPower(double beta, long t) =>",
            "        t * global::System.Math.Log2(beta) < -60 ? 1 : 1 - global::System.Math.Pow(beta, t);",
            "}",
            "",
            "/// <summary>Adam over n parameters with gᵢ = d·aᵢ + λθᵢ: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η̂m/(√v·ĉ + ε);",
            "/// widest accelerated vector, then a scalar tail (the same operations, so the same bits at every width).</summary>",
            Inline,
            "private static void AdamRow<T>(ref T theta, ref T m, ref T v, T d, ref T a, int n, in AdamStep<T> c)",
            "    " + Constraint,
            "{",
            "    int i = 0;",
            "    if (" + V + "Vector512.IsHardwareAccelerated && " + V + "Vector512<T>.IsSupported && n >= " + V + "Vector512<T>.Count)",
            "        i = AdamRow512<T>(ref theta, ref m, ref v, d, ref a, n, in c);",
            "    else if (" + V + "Vector256.IsHardwareAccelerated && " + V + "Vector256<T>.IsSupported && n >= " + V + "Vector256<T>.Count)",
            "        i = AdamRow256<T>(ref theta, ref m, ref v, d, ref a, n, in c);",
            "    else if (" + V + "Vector128.IsHardwareAccelerated && " + V + "Vector128<T>.IsSupported && n >= " + V + "Vector128<T>.Count)",
            "        i = AdamRow128<T>(ref theta, ref m, ref v, d, ref a, n, in c);",
            "    for (; i < n; i++)",
            "    {",
            "        ref T th = ref " + Unsafe + ".Add(ref theta, i);",
            "        T g = d * " + Unsafe + ".Add(ref a, i) + c.Lambda * th;",
            "        T mi = c.B1 * " + Unsafe + ".Add(ref m, i) + c.OneMinusB1 * g;",
            "        " + Unsafe + ".Add(ref m, i) = mi;",
            "        T vi = c.B2 * " + Unsafe + ".Add(ref v, i) + c.OneMinusB2 * g * g;",
            "        " + Unsafe + ".Add(ref v, i) = vi;",
            "        th -= c.StepSize * mi / (T.Sqrt(vi) * c.InvSqrtBc2 + c.Eps);",
            "    }",
            "}",
            AdamVector("512"),
            AdamVector("256"),
            AdamVector("128"),
        });

        private static string Dot4Block(string bits, string prefix)
        {
            string vec = V + "Vector" + bits, vt = vec + "<T>";
            return string.Join("\n", new[]
            {
                "    " + prefix + "if (" + vec + ".IsHardwareAccelerated && " + vt + ".IsSupported && n >= " + vt + ".Count)",
                "    {",
                "        var a0 = " + vt + ".Zero;",
                "        var a1 = " + vt + ".Zero;",
                "        var a2 = " + vt + ".Zero;",
                "        var a3 = " + vt + ".Zero;",
                "        for (; i <= n - " + vt + ".Count; i += " + vt + ".Count)",
                "        {",
                "            var xv = " + vec + Lu + "x, (nuint)i);",
                "            if (xv == " + vt + ".Zero) continue;   // zero inputs (an image's blank border) add +0: skipped, same bits",
                "            a0 += " + vec + Lu + "w, (nuint)i) * xv;",
                "            a1 += " + vec + Lu + "w1, (nuint)i) * xv;",
                "            a2 += " + vec + Lu + "w2, (nuint)i) * xv;",
                "            a3 += " + vec + Lu + "w3, (nuint)i) * xv;",
                "        }",
                "        s0 = HorizontalSum<T>(a0);",
                "        s1 = HorizontalSum<T>(a1);",
                "        s2 = HorizontalSum<T>(a2);",
                "        s3 = HorizontalSum<T>(a3);",
                "    }",
            });
        }

        private static string AdamVector(string bits)
        {
            string vec = V + "Vector" + bits, vt = vec + "<T>";
            return string.Join("\n", new[]
            {
                "",
                "/// <summary>The " + bits + "-bit body of <see cref=\"AdamRow{T}\"/>; returns where the scalar tail starts.</summary>",
                Inline,
                "private static int AdamRow" + bits + "<T>(ref T theta, ref T m, ref T v, T d, ref T a, int n, in AdamStep<T> c)",
                "    " + Constraint,
                "{",
                "    var dv = " + vec + ".Create(d);",
                "    var b1 = " + vec + ".Create(c.B1);",
                "    var oneMinusB1 = " + vec + ".Create(c.OneMinusB1);",
                "    var b2 = " + vec + ".Create(c.B2);",
                "    var oneMinusB2 = " + vec + ".Create(c.OneMinusB2);",
                "    var step = " + vec + ".Create(c.StepSize);",
                "    var bc2 = " + vec + ".Create(c.InvSqrtBc2);",
                "    var eps = " + vec + ".Create(c.Eps);",
                "    var lambda = " + vec + ".Create(c.Lambda);",
                "    int i = 0;",
                "    for (; i <= n - " + vt + ".Count; i += " + vt + ".Count)",
                "    {",
                "        var th = " + vec + Lu + "theta, (nuint)i);",
                "        var g = dv * " + vec + Lu + "a, (nuint)i) + lambda * th;",
                "        var mi = b1 * " + vec + Lu + "m, (nuint)i) + oneMinusB1 * g;",
                "        " + vec + ".StoreUnsafe(mi, ref m, (nuint)i);",
                "        var vi = b2 * " + vec + Lu + "v, (nuint)i) + oneMinusB2 * g * g;",
                "        " + vec + ".StoreUnsafe(vi, ref v, (nuint)i);",
                "        " + vec + ".StoreUnsafe(th - step * mi / (" + vec + ".Sqrt(vi) * bc2 + eps), ref theta, (nuint)i);",
                "    }",
                "    return i;",
                "}",
            });
        }
    }
}
