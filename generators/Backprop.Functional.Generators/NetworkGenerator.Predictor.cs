using Backprop.Functional.Generators.Helpers;
using Backprop.Functional.Generators.Model;

namespace Backprop.Functional.Generators;

public sealed partial class NetworkGenerator
{
    internal static partial class Emit
    {
        /// <summary>The nested <c>Predictor&lt;T&gt;</c>: one-sample inference on a copy of θ whose first layer is stored
        /// transposed, so z⁰ = b⁰ + Σᵢ xᵢ·W⁰ᵀᵢ reads one row per non-zero input (the runtime Predictor's layout), with every
        /// size a constant; the later layers run the generated Forward{l}.</summary>
        internal static void PredictorClass(CodeWriter w, EquatableArray<LayerModel> layers)
        {
            int last = layers.Count - 1;
            string first = layers[0].Activation!;
            w.Line("/// <summary>One-sample inference on a copy of θ, laid out as the runtime <see cref=\"" + Lib + "Predictor{T}\"/> lays it out:");
            w.Line("/// W⁰ stored transposed, W⁰ᵀ [Layer0Inputs × Stride], so z⁰ = b⁰ + Σᵢ xᵢ·W⁰ᵀᵢ reads one contiguous row per input and skips");
            w.Line("/// every row whose xᵢ is zero (an MNIST digit: about a fifth of the rows), in blocks of eight vectors of units held in");
            w.Line("/// registers. An input with more than half its values non-zero runs the generated one-sample forward instead. Later layers");
            w.Line("/// run the generated Forward{l}. aᴸ agrees with the runtime Predictor's within |g − r| ≤ b·(|r| + ‖r‖∞), b = 256·2⁻²⁴ in");
            w.Line("/// float, 10⁻¹² in double (the sums run in another order, without FMA). A snapshot of θ: call <see cref=\"Refresh\"/> after");
            w.Line("/// training. One thread at a time (the returned span and the scratch are the predictor's own). Predict allocates nothing.</summary>");
            w.Line("public sealed class Predictor<T>");
            w.Line("    " + Constraint);
            w.Line("{");
            w.Line("    private static int Block => 8 * global::System.Numerics.Vector<T>.Count;");
            w.Line("    private static int Stride => (Layer0Outputs + Block - 1) / Block * Block;");
            w.Line("    private readonly T[] _theta = new T[ParameterCount];");
            w.Line("    private readonly T[] _firstTransposed = new T[Layer0Inputs * Stride];   // columns ≥ Layer0Outputs stay zero");
            w.Line("    private readonly T[] _firstBias = new T[Stride];");
            w.Line("    private readonly int[] _live = new int[Layer0Inputs];");
            for (int l = 0; l <= last; l++)
                w.Line("    private readonly T[] _z" + l + " = new T[" + (l == 0 ? "Stride" : "Layer" + l + "Outputs") + "], _a" + l + " = new T[Layer" + l + "Outputs];");
            w.Line();
            w.Line("    /// <summary>Copies θ into the inference layout.</summary>");
            w.Line("    /// <param name=\"theta\">θ, [ParameterCount], in <see cref=\"Layout\"/>.</param>");
            w.Line("    /// <exception cref=\"global::System.ArgumentException\">θ is not [ParameterCount] long.</exception>");
            w.Line("    public Predictor(global::System.ReadOnlySpan<T> theta) => Refresh(theta);");
            w.Line();
            w.Line("    /// <summary>Copies θ again (after training).</summary>");
            w.Line("    /// <param name=\"theta\">θ, [ParameterCount], in <see cref=\"Layout\"/>.</param>");
            w.Line("    /// <exception cref=\"global::System.ArgumentException\">θ is not [ParameterCount] long.</exception>");
            w.Line("    public void Refresh(global::System.ReadOnlySpan<T> theta)");
            w.Line("    {");
            w.Line("        if (theta.Length != ParameterCount) ThrowTheta(theta.Length);");
            w.Line("        theta.CopyTo(_theta);");
            w.Line("        for (int j = 0; j < Layer0Outputs; j++)");
            w.Line("        {");
            w.Line("            _firstBias[j] = theta[B0Offset + j];");
            w.Line("            for (int i = 0; i < Layer0Inputs; i++)");
            w.Line("                _firstTransposed[i * Stride + j] = theta[W0Offset + j * Layer0Inputs + i];");
            w.Line("        }");
            w.Line("    }");
            w.Line();
            w.Line("    /// <summary>aᴸ for one sample.</summary>");
            w.Line("    /// <param name=\"x\">One input, [InputSize].</param>");
            w.Line("    /// <returns>aᴸ, [OutputSize]; a view that the next call overwrites.</returns>");
            w.Line("    /// <exception cref=\"global::System.ArgumentException\">x is not [InputSize] long, or holds NaN or infinity.</exception>");
            w.Line("    public global::System.ReadOnlySpan<T> Predict(global::System.ReadOnlySpan<T> x)");
            w.Line("    {");
            w.Line("        if (x.Length != InputSize) ThrowPredictInput(x.Length);");
            w.Line("        " + Lib + "Validate.Finite<T>(x, InputSize, \"input\");");
            w.Line("        int live = NonZeroInputs(x);");
            w.Line("        if (live * 2 <= InputSize)");
            w.Line("        {");
            w.Line("            FirstLayer(x, live);");
            w.Line("            " + Lib + first + ".Apply<T>(new global::System.ReadOnlySpan<T>(_z0, 0, Layer0Outputs), _a0, Layer0Outputs);");
            w.Line("        }");
            w.Line("        else Forward0<T>(_theta, x, _z0, _a0);");
            for (int l = 1; l <= last; l++)
                w.Line("        Forward" + l + "<T>(_theta, _a" + (l - 1) + ", _z" + l + ", _a" + l + ");");
            w.Line("        return _a" + last + ";");
            w.Line("    }");
            w.Line();
            w.Line("    /// <summary>The index of the largest output (the predicted class; the first on ties).</summary>");
            w.Line("    /// <param name=\"x\">One input, [InputSize].</param>");
            w.Line("    /// <exception cref=\"global::System.ArgumentException\">x is not [InputSize] long, or holds NaN or infinity.</exception>");
            w.Line("    public int Classify(global::System.ReadOnlySpan<T> x) => global::System.Numerics.Tensors.TensorPrimitives.IndexOfMax<T>(Predict(x));");
            w.Line();
            w.Line("    /// <summary>Lists the indices of the non-zero inputs in increasing order; returns how many, or stops early with a count");
            w.Line("    /// above half the inputs once that is certain (the list is not used then).</summary>");
            w.Line("    private int NonZeroInputs(global::System.ReadOnlySpan<T> x)");
            w.Line("    {");
            w.Line("        int live = 0, i = 0;");
            w.Line("        ref T x0 = ref " + Marshal + ".GetReference(x);");
            w.Line("        ref int rows = ref " + Marshal + ".GetArrayDataReference(_live);");
            w.Line("        if (" + V + "Vector256.IsHardwareAccelerated && " + V + "Vector256<T>.IsSupported)");
            w.Line("        {");
            w.Line("            for (; i <= InputSize - " + V + "Vector256<T>.Count; i += " + V + "Vector256<T>.Count)");
            w.Line("            {");
            w.Line("                uint nonZero = ~" + V + "Vector256.ExtractMostSignificantBits(" + V + "Vector256.Equals(" + V + "Vector256" + Lu + "x0, (nuint)i), " + V + "Vector256<T>.Zero))");
            w.Line("                    & ((1u << " + V + "Vector256<T>.Count) - 1);");
            w.Line("                for (; nonZero != 0; nonZero &= nonZero - 1)");
            w.Line("                    " + Unsafe + ".Add(ref rows, live++) = i + global::System.Numerics.BitOperations.TrailingZeroCount(nonZero);");
            w.Line("                if (live * 2 > InputSize) return live;");
            w.Line("            }");
            w.Line("        }");
            w.Line("        for (; i < InputSize; i++)");
            w.Line("            if (" + Unsafe + ".Add(ref x0, i) != T.Zero) " + Unsafe + ".Add(ref rows, live++) = i;");
            w.Line("        return live;");
            w.Line("    }");
            w.Line();
            w.Line("    /// <summary>z⁰ ← b⁰ + Σ over the listed non-zero xᵢ of xᵢ·W⁰ᵀᵢ, eight vectors of units at a time in registers.</summary>");
            w.Line("    private void FirstLayer(global::System.ReadOnlySpan<T> x, int live)");
            w.Line("    {");
            w.Line("        int v = global::System.Numerics.Vector<T>.Count;");
            w.Line("        ref T x0 = ref " + Marshal + ".GetReference(x);");
            w.Line("        ref int rows = ref " + Marshal + ".GetArrayDataReference(_live);");
            w.Line("        ref T wt = ref " + Marshal + ".GetArrayDataReference(_firstTransposed);");
            w.Line("        ref T bias = ref " + Marshal + ".GetArrayDataReference(_firstBias);");
            w.Line("        ref T z = ref " + Marshal + ".GetArrayDataReference(_z0);");
            w.Line("        for (int j = 0; j < Stride; j += Block)");
            w.Line("        {");
            w.Line("            ref T b = ref " + Unsafe + ".Add(ref bias, j);");
            string vec = "global::System.Numerics.Vector";
            for (int k = 0; k < 8; k++)
                w.Line("            var c" + k + " = " + vec + ".LoadUnsafe(ref b, (nuint)(" + k + " * v));");
            w.Line("            for (int t = 0; t < live; t++)");
            w.Line("            {");
            w.Line("                int input = " + Unsafe + ".Add(ref rows, t);");
            w.Line("                var xi = new " + vec + "<T>(" + Unsafe + ".Add(ref x0, input));");
            w.Line("                ref T row = ref " + Unsafe + ".Add(ref wt, input * Stride + j);");
            for (int k = 0; k < 8; k++)
                w.Line("                c" + k + " += " + vec + ".LoadUnsafe(ref row, (nuint)(" + k + " * v)) * xi;");
            w.Line("            }");
            w.Line("            ref T out0 = ref " + Unsafe + ".Add(ref z, j);");
            for (int k = 0; k < 8; k++)
                w.Line("            " + vec + ".StoreUnsafe(c" + k + ", ref out0, (nuint)(" + k + " * v));");
            w.Line("        }");
            w.Line("    }");
            w.Line("}");
            w.Line();
        }
    }
}
