using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The kernels of a <see cref="Dense"/> layer: Forward is zˡ = Wˡaˡ⁻¹ + bˡ, aˡ = σ(zˡ); Backward is the four
/// equations of <see cref="Equations"/> (BP1's σ′ unless the loss fused it, BP4, BP3, and BP2's product with Wˡ), in
/// the order and on the memory the dense network always used. The static <see cref="Forward{TAct, T}"/> is shared with
/// generated networks.
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers.</para></summary>
public readonly struct DenseKernel : ILayerKernel<Dense>
{
    /// <summary><c>Dense</c>.</summary>
    public static string Kind => "Dense";

    /// <summary><c>weight</c> Wˡ [outputs × inputs], then <c>bias</c> bˡ [outputs] (torch.nn.Linear).</summary>
    public static ParameterTensor[] Parameters(Dense layer) =>
        [ParameterTensor.Matrix("weight", layer.Outputs, layer.Inputs), ParameterTensor.Vector("bias", layer.Outputs)];

    /// <summary>zˡ: Outputs values per sample (per step of a <see cref="Dense.PerStep"/> layer).</summary>
    public static int ScratchPerSample(Dense layer, int time) => layer.PerStep ? checked(time * layer.Outputs) : layer.Outputs;

    /// <summary>zˡ into the scratch, aˡ into y, through the layer's activation (one switch).</summary>
    public static void Forward<T>(Dense layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var step = new ForwardStep<T>
        {
            Parameters = p.Theta, X = p.X, Z = p.Scratch, A = p.Y,
            Inputs = layer.Inputs, Outputs = layer.Outputs, Threads = p.Threads, Plans = p.Plans,
        };
        ActivationDispatch.Run(layer.Activation, ref step);
    }

    /// <summary>δˡ = ∂C/∂aˡ ⊙ σ′(zˡ) in place of DY (unless DYIsDelta), then ∂C/∂Wˡ (BP4) and ∂C/∂bˡ (BP3) into
    /// DTheta, then ∂C/∂aˡ⁻¹ = (Wˡ)ᵀδˡ into DX.</summary>
    public static void Backward<T>(Dense layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inputs = layer.Inputs, outputs = layer.Outputs, weights = outputs * inputs;
        if (!p.DTheta.IsEmpty && p.Threads > 1 && !p.Plans.IsEmpty && OwnedDense.Enabled && !layer.PerStep)
        {
            // two threads, each on its units: σ′, ∂C/∂b and ∂C/∂W for its rows (OwnedDense; the same bits)
            var owned = new OwnedBackwardStep<T>
            {
                X = p.X, Z = p.Scratch, A = p.Y, Delta = p.DY, Weights = p.DTheta[..weights], Bias = p.DTheta.Slice(weights, outputs),
                Inputs = inputs, Outputs = outputs, Threads = p.Threads, Plans = p.Plans, DeltaIsGiven = p.DYIsDelta,
            };
            ActivationDispatch.Run(layer.Activation, ref owned);
            if (owned.Done)
            {
                if (!p.DX.IsEmpty)
                    Equations.InputGradientPlanned(p.Theta[..weights], p.DY, p.DX, inputs, outputs, p.Threads, p.Plans);
                return;
            }
        }
        if (!p.DYIsDelta)
        {
            var error = new ErrorStep<T> { Z = p.Scratch, A = p.Y, Delta = p.DY, Outputs = outputs };
            ActivationDispatch.Run(layer.Activation, ref error);
            StepProbe.Phase(StepProbe.SigmaPrime);
        }
        if (!p.DTheta.IsEmpty)
        {
            Equations.WeightGradientPlanned(p.DY, p.X, p.DTheta[..weights], inputs, outputs, p.Threads, p.Plans);
            StepProbe.Phase(StepProbe.WeightGradient);
            Equations.BiasGradient<T>(p.DY, p.DTheta.Slice(weights, outputs));
            StepProbe.Phase(StepProbe.BiasGradient);
        }
        if (!p.DX.IsEmpty)
        {
            Equations.InputGradientPlanned(p.Theta[..weights], p.DY, p.DX, inputs, outputs, p.Threads, p.Plans);
            StepProbe.Phase(StepProbe.InputGradient);
        }
    }

    private ref struct OwnedBackwardStep<T> : IActivationAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> X, Z, A;
        public Span<T> Delta, Weights, Bias;
        public int Inputs, Outputs, Threads;
        public Span<GemmPlan> Plans;
        public bool DeltaIsGiven, Done;

        public void Invoke<TAct>() where TAct : struct, IActivation
        {
            int batch = Delta.Length / Outputs;
            Done = OwnedDense<TAct, T>.TryBackward(Plans, X[..(batch * Inputs)], Z[..Delta.Length], A[..Delta.Length], Delta,
                Weights, Bias, batch, Inputs, Outputs, Threads, DeltaIsGiven);
        }
    }

    /// <summary>The R-operator of Forward: żˡ = V_W aˡ⁻¹ + Wˡ ȧˡ⁻¹ + v_b into ScratchDot (bias and the two products in one
    /// seeded buffer, as Forward seeds z with b), then ȧˡ = J_σ(zˡ) żˡ into YDot (σ′ ⊙ ż; softmax's Jacobian is symmetric,
    /// so its vector–Jacobian product is also its Jacobian–vector product).</summary>
    public static void ForwardTangent<T>(Dense layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inputs = layer.Inputs, outputs = layer.Outputs, weights = outputs * inputs;
        Shapes.RequireRows(p.X.Length, inputs, "x");
        int n = p.X.Length / inputs;
        var zDot = p.ScratchDot[..(n * outputs)];
        var vBias = p.V.Slice(weights, outputs);
        for (int r = 0; r < n; r++) vBias.CopyTo(zDot.Slice(r * outputs, outputs));
        Gemm.Multiply(p.X, false, p.V[..weights], true, zDot, n, outputs, inputs, accumulate: true, p.Threads);
        if (!p.XDot.IsEmpty) Gemm.Multiply(p.XDot, false, p.Theta[..weights], true, zDot, n, outputs, inputs, accumulate: true, p.Threads);
        var jvp = new ErrorStep<T> { Z = p.Scratch, A = p.Y, Delta = p.YDot[..(n * outputs)], Upstream = zDot, Outputs = outputs };
        ActivationDispatch.Run(layer.Activation, ref jvp);
    }

    /// <summary>The backward pass and its R-operator: δˡ and R{δˡ} (<see cref="ActivationTangent"/>) unless DYIsDelta, then
    /// R{∂C/∂Wˡ} = R{δˡ}(aˡ⁻¹)ᵀ + δˡ(ȧˡ⁻¹)ᵀ (BP4 differentiated), R{∂C/∂bˡ} = Σ R{δˡ} (BP3), and for the layer below
    /// ∂C/∂aˡ⁻¹ = (Wˡ)ᵀδˡ and R{∂C/∂aˡ⁻¹} = V_Wᵀδˡ + (Wˡ)ᵀR{δˡ} (BP2's product differentiated).</summary>
    public static void BackwardTangent<T>(Dense layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inputs = layer.Inputs, outputs = layer.Outputs, weights = outputs * inputs;
        Shapes.RequireRows(p.X.Length, inputs, "x");
        int n = p.X.Length / inputs, length = n * outputs;
        Span<T> delta = p.DY[..length], deltaDot = p.DYDot[..length];
        if (!p.DYIsDelta)
            ActivationTangent.Error(layer.Activation, p.Scratch[..length], p.ScratchDot[..length], p.Y[..length], p.YDot[..length],
                delta, deltaDot, outputs);
        var hvWeight = p.DThetaDot[..weights];
        Equations.WeightGradient(deltaDot, p.X, hvWeight, inputs, outputs, p.Threads);
        if (!p.XDot.IsEmpty) Gemm.Multiply<T>(delta, true, p.XDot, false, hvWeight, outputs, inputs, n, accumulate: true, p.Threads);
        Equations.BiasGradient<T>(deltaDot, p.DThetaDot.Slice(weights, outputs));
        if (p.DX.IsEmpty) return;
        Equations.InputGradient(p.Theta[..weights], delta, p.DX, inputs, outputs, p.Threads);
        Equations.InputGradient(p.Theta[..weights], deltaDot, p.DXDot, inputs, outputs, p.Threads);
        Gemm.Multiply<T>(delta, false, p.V[..weights], false, p.DXDot, n, inputs, outputs, accumulate: true, p.Threads);
    }

    /// <summary><c>inputs-outputs:Activation</c>, e.g. <c>784-128:ReLU</c>; a <see cref="Dense.PerStep"/> layer adds
    /// <c>:per-step</c>.</summary>
    public static string Format(Dense layer) =>
        string.Create(CultureInfo.InvariantCulture, $"{layer.Inputs}-{layer.Outputs}:{layer.Activation}{(layer.PerStep ? PerStepSuffix : "")}");

    private const string PerStepSuffix = ":per-step";

    /// <summary>Parses <c>inputs-outputs:Activation</c> (positive widths, an exact <see cref="ActivationKind"/> name),
    /// optionally followed by <c>:per-step</c>.</summary>
    public static bool TryParse(string arguments, [NotNullWhen(true)] out Dense? layer, out string reason)
    {
        layer = null;
        int dash = arguments.IndexOf('-', StringComparison.Ordinal);
        int colon = arguments.IndexOf(':', StringComparison.Ordinal);
        if (dash <= 0 || colon <= dash + 1
            || !TryParseWidth(arguments.AsSpan(0, dash), out int inputs)
            || !TryParseWidth(arguments.AsSpan(dash + 1, colon - dash - 1), out int outputs))
        {
            reason = $"\"{InputText.Excerpt(arguments)}\" is not of the form inputs-outputs:Activation with positive widths, e.g. 784-128:ReLU";
            return false;
        }
        string activation = arguments[(colon + 1)..];
        bool perStep = activation.EndsWith(PerStepSuffix, StringComparison.Ordinal);
        if (perStep) activation = activation[..^PerStepSuffix.Length];
        if (!LayerListText.TryParseName(activation, out ActivationKind kind))
        {
            reason = $"unknown activation \"{InputText.Excerpt(activation)}\" (known: {string.Join(", ", Enum.GetNames<ActivationKind>())})";
            return false;
        }
        layer = new Dense(inputs, outputs, kind) { PerStep = perStep };
        reason = "";
        return true;
    }

    private static bool TryParseWidth(ReadOnlySpan<char> text, out int width) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out width) && width > 0;

    /// <summary>zˡ = Wˡaˡ⁻¹ + bˡ, aˡ = σ(zˡ) for every row: z is seeded with b, the GEMM A·Wᵀ accumulates onto it
    /// (bias fused, no extra pass), then σ runs once over the batch.</summary>
    /// <param name="parameters">This layer's slice of the flat vector: Wˡ [outputs × inputs] then bˡ [outputs].</param>
    /// <param name="x">aˡ⁻¹, [batch × inputs].</param>
    /// <param name="z">zˡ, written, [batch × outputs].</param>
    /// <param name="a">aˡ, written, [batch × outputs].</param>
    /// <param name="inputs">Width of aˡ⁻¹.</param>
    /// <param name="outputs">Width of zˡ.</param>
    /// <param name="threads">Threads the GEMM may use.</param>
    /// <exception cref="ArgumentException">A span does not have the shape given.</exception>
    public static void Forward<TAct, T>(ReadOnlySpan<T> parameters, ReadOnlySpan<T> x, Span<T> z, Span<T> a,
        int inputs, int outputs, int threads = 1)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T> =>
        ForwardPlanned<TAct, T>(parameters, x, z, a, inputs, outputs, threads, plans: default);

    /// <summary><see cref="Forward{TAct, T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, int, int, int)"/> through the
    /// layer's kept GEMM plans (<see cref="Workspace{T}.Plans"/>; empty: planned per call).</summary>
    internal static void ForwardPlanned<TAct, T>(ReadOnlySpan<T> parameters, ReadOnlySpan<T> x, Span<T> z, Span<T> a,
        int inputs, int outputs, int threads, Span<GemmPlan> plans)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireLayerParameters(parameters.Length, inputs, outputs);
        Shapes.RequireRows(x.Length, inputs, nameof(x));
        int batch = x.Length / inputs;
        Shapes.RequireLength<T>(z, batch, outputs, nameof(z));
        Shapes.RequireLength<T>(a, batch, outputs, nameof(a));
        var w = parameters[..(outputs * inputs)];
        var b = parameters.Slice(outputs * inputs, outputs);
        if (OwnedDense<TAct, T>.TryForward(plans, x, w, b, z, a, batch, inputs, outputs, threads))
            return;   // two threads, each seeding, multiplying and activating its own units (OwnedDense; the same bits)
        // z = b + x·Wᵀ: on the packed path over two threads each seeds the part of z it computes, and for ReLU also
        // activates it there (a = max(z, 0), exact: the same bits as the pass over the whole batch)
        bool activated = Gemm.MultiplySeeded(plans, Gemm.ForwardSlot, x, false, w, true, z, b, batch, outputs, inputs, threads,
            typeof(TAct) == typeof(ReLU) ? a[..(batch * outputs)] : default);
        StepProbe.Phase(StepProbe.Product);
        if (activated)
            return;
        TAct.Apply(z, a, outputs);
        StepProbe.Phase(StepProbe.Sigma);
    }

    private ref struct ForwardStep<T> : IActivationAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Parameters, X;
        public Span<T> Z, A;
        public int Inputs, Outputs, Threads;
        public Span<GemmPlan> Plans;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation =>
            ForwardPlanned<TAct, T>(Parameters, X, Z, A, Inputs, Outputs, Threads, Plans);
    }

    /// <summary>BP1's form with ∂C/∂aˡ in place of ∇ₐC: δˡ = J_σ(zˡ)ᵀ ∂C/∂aˡ, in place.</summary>
    /// <remarks>With <c>Upstream</c> set it reads u there (ForwardTangent's ȧ = J_σ ż); otherwise in place.</remarks>
    private ref struct ErrorStep<T> : IActivationAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Upstream;
        public Span<T> Delta;
        public int Outputs;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation =>
            Equations.OutputError<TAct, T>(Upstream.IsEmpty ? Delta : Upstream, Z, A, Delta, Outputs);
    }
}
