using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Exact curvature-vector products of a network's mean cost C(θ) = (1/m) Σₓ ℓ(f(x; θ), y) on one batch, each
/// one forward-mode (tangent) pass and one backward pass, no finite differences:
/// <list type="bullet">
/// <item><see cref="HessianVector{T}"/>: Hv = ∇²C(θ)·v by Pearlmutter's (1994) R-operator: the tangent pass
/// (<see cref="ILayerKernel{TLayer}.ForwardTangent"/>) gives żˡ, ȧˡ; the backward pass differentiated along it
/// (<see cref="ILayerKernel{TLayer}.BackwardTangent"/>) gives R{δˡ} and R{∂C/∂θ} = Hv.</item>
/// <item><see cref="GaussNewtonVector{T}"/>: Gv = Jᵀ H_L J v (Schraudolph 2002): J v is the tangent at the split point,
/// H_L the loss's own curvature there, Jᵀ the ordinary backward pass. The split is at zᴸ for the matching pairs of output
/// and cost (identity + quadratic, sigmoid + binary cross-entropy, softmax + categorical cross-entropy), where ℓ is convex
/// in zᴸ and H_L is its exact Hessian there (I; diag(a(1 − a)); Σy·(diag a − a aᵀ)); at aᴸ otherwise, with
/// H_L = diag(∂²ℓ/∂a²), so that G stays positive semi-definite for a convex cost (the σ″ term of the output activation
/// is what splitting at aᴸ leaves out).</item>
/// <item><see cref="FisherVector{T}"/>: the true Fisher Jᵀ E_{y∼model}[∇ℓ∇ℓᵀ] J, the expectation taken exactly at the
/// split point (equal to G for the matching pairs, where ℓ is the model's negative log-likelihood of a canonical
/// exponential family), or the empirical Fisher (1/m) Σₓ ∇ℓₓ∇ℓₓᵀ with the data's targets, formed as
/// (1/m) Σₓ Jₓᵀ eₓ (eₓ · Jₓ v) with eₓ = ∂ℓₓ/∂zᴸ, never as per-sample gradients.</item>
/// </list>
/// Call <see cref="Forward{T}"/> once for (θ, x); any number of products on the same θ, x and y may follow (a
/// conjugate-gradient solve reuses the forward pass). Every layer kind on the way must implement the tangent kernels:
/// Dense, Rnn, Lstm and Gru do (recurrent layers with sequences of equal length, one output per sample); any other kind
/// is refused by name. <see cref="Gradient{T}"/> runs the backward pass over the forward pass's scratch, which a
/// recurrent layer overwrites: run <see cref="Forward{T}"/> again before another gradient (the products restore what
/// they need themselves). Allocates nothing.</summary>
public static class Curvature
{
    /// <summary>The forward pass at θ on x into <paramref name="ws"/>, kept for the products that follow.</summary>
    /// <param name="spec">The network.</param>
    /// <param name="theta">θ.</param>
    /// <param name="x">Inputs, [rows × inputs].</param>
    /// <param name="ws">Curvature scratch for <paramref name="spec"/>.</param>
    /// <exception cref="ArgumentException">A shape does not match, or x holds NaN or infinity.</exception>
    public static void Forward<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, CurvatureWorkspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireWorkspace(spec, ws);
        Equations.Forward(spec, theta, x, ws.Primal);
        ws.Rows = ws.Primal.RowsOf(x.Length);
    }

    /// <summary>After <see cref="Forward{T}"/>: ∂C/∂θ into <paramref name="gradient"/>; returns the batch's mean cost.</summary>
    /// <exception cref="ArgumentException">A shape does not match, or y holds NaN or infinity.</exception>
    public static T Gradient<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Rows(spec, theta, x, ws, gradient, gradient);
        return Equations.Backward(spec, theta, x, y, ws.Primal, gradient);
    }

    /// <summary>After <see cref="Forward{T}"/>: Hv = ∇²C(θ)·v into <paramref name="hv"/> (see <see cref="Curvature"/>).</summary>
    /// <exception cref="ArgumentException">A shape does not match, or y holds NaN or infinity.</exception>
    /// <exception cref="NotSupportedException">A layer kind has no tangent kernels (the message names it).</exception>
    public static void HessianVector<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, ReadOnlySpan<T> v, Span<T> hv) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = Rows(spec, theta, x, ws, v, hv);
        TangentForward(spec, theta, x, ws, v, rows);
        bool isDelta = OutputSeed(spec, y, ws, rows, SeedKind.Hessian);
        var layout = spec.Layout;
        int last = spec.Layers.Count - 1;
        for (int l = last; l >= 0; l--)
        {
            int offset = layout.LayerOffset(l), length = layout.LayerLength(l);
            var pass = new TangentBackwardPass<T>
            {
                Theta = theta.Slice(offset, length), V = v.Slice(offset, length),
                X = l == 0 ? x : ws.Primal.A(l - 1, rows), XDot = l == 0 ? default : ws.Tangent.A(l - 1, rows),
                Y = ws.Primal.A(l, rows), YDot = ws.Tangent.A(l, rows),
                Scratch = ws.Primal.Z(l, rows), ScratchDot = ws.Tangent.Z(l, rows),
                DY = ws.Primal.Delta(l, rows), DYDot = ws.Tangent.Delta(l, rows),
                DX = l == 0 ? default : ws.Primal.Delta(l - 1, rows), DXDot = l == 0 ? default : ws.Tangent.Delta(l - 1, rows),
                DThetaDot = hv.Slice(offset, length), LayerScratch = ws.Primal.LayerScratch(l), Lengths = ws.Primal.Lengths(rows),
                Rows = rows, Time = ws.Primal.Time, Threads = ws.Primal.Threads, DYIsDelta = l == last && isDelta,
            };
            if (spec.Layers[l] is Dense d) DenseKernel.BackwardTangent(d, in pass);
            else spec.Layers[l].BackwardTangent(in pass);
        }
    }

    /// <summary>After <see cref="Forward{T}"/>: Gv = Jᵀ H_L J v into <paramref name="gv"/>, split at zᴸ for the matching
    /// pairs of output and cost and at aᴸ otherwise (see <see cref="Curvature"/>).</summary>
    /// <exception cref="ArgumentException">A shape does not match, or y holds NaN or infinity.</exception>
    /// <exception cref="NotSupportedException">A layer kind has no tangent kernel (the message names it).</exception>
    public static void GaussNewtonVector<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, ReadOnlySpan<T> v, Span<T> gv) where T : unmanaged, IFloatingPointIeee754<T> =>
        LinearisedProduct(spec, theta, x, y, ws, v, gv, SeedKind.GaussNewton);

    /// <summary>After <see cref="Forward{T}"/>: Fv for the <paramref name="kind"/> Fisher into <paramref name="fv"/>
    /// (see <see cref="Curvature"/> and <see cref="FisherKind"/>).</summary>
    /// <exception cref="ArgumentException">A shape does not match, or y holds NaN or infinity.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a <see cref="FisherKind"/>.</exception>
    /// <exception cref="NotSupportedException">A layer kind has no tangent kernel (the message names it).</exception>
    public static void FisherVector<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, ReadOnlySpan<T> v, Span<T> fv, FisherKind kind) where T : unmanaged, IFloatingPointIeee754<T> =>
        LinearisedProduct(spec, theta, x, y, ws, v, fv, kind switch
        {
            FisherKind.True => SeedKind.TrueFisher,
            FisherKind.Empirical => SeedKind.EmpiricalFisher,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a FisherKind (True or Empirical)"),
        });

    /// <summary>Whether the cost is fused with the output activation, so that the Gauss–Newton split is at zᴸ.</summary>
    public static bool SplitsAtLogits(LossKind loss, ActivationKind output) => (loss, output) switch
    {
        (LossKind.Quadratic, ActivationKind.Identity) => true,
        (LossKind.CrossEntropy, ActivationKind.Sigmoid) => true,
        (LossKind.SoftmaxCrossEntropy, ActivationKind.Softmax) => true,
        _ => false,
    };

    private enum SeedKind { Hessian, GaussNewton, TrueFisher, EmpiricalFisher }

    /// <summary>Jᵀ (output curvature) J v: the tangent pass, the output seed, then the ordinary backward pass (each layer's
    /// vector–Jacobian product) run on the tangent's δ buffers over the forward pass's z and a.</summary>
    private static void LinearisedProduct<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        CurvatureWorkspace<T> ws, ReadOnlySpan<T> v, Span<T> result, SeedKind kind) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = Rows(spec, theta, x, ws, v, result);
        TangentForward(spec, theta, x, ws, v, rows);
        bool isDelta = OutputSeed(spec, y, ws, rows, kind);
        var layout = spec.Layout;
        int last = spec.Layers.Count - 1;
        for (int l = last; l >= 0; l--)
        {
            int offset = layout.LayerOffset(l), length = layout.LayerLength(l);
            var pass = new BackwardPass<T>
            {
                Theta = theta.Slice(offset, length),
                X = l == 0 ? x : ws.Primal.A(l - 1, rows), Y = ws.Primal.A(l, rows), Scratch = ws.Primal.Z(l, rows),
                LayerScratch = ws.Primal.LayerScratch(l),
                DY = ws.Tangent.Delta(l, rows), DX = l == 0 ? default : ws.Tangent.Delta(l - 1, rows),
                DTheta = result.Slice(offset, length), Lengths = ws.Primal.Lengths(rows),
                Rows = rows, Time = ws.Primal.Time, Threads = ws.Primal.Threads, DYIsDelta = l == last && isDelta,
            };
            if (spec.Layers[l] is Dense d) DenseKernel.Backward(d, in pass);
            else spec.Layers[l].Backward(in pass);
        }
    }

    /// <summary>The tangent pass: each layer's ForwardTangent, ẋ = 0 at the input (x is data, not a function of θ).</summary>
    private static void TangentForward<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, CurvatureWorkspace<T> ws,
        ReadOnlySpan<T> v, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layout = spec.Layout;
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            int offset = layout.LayerOffset(l), length = layout.LayerLength(l);
            var pass = new TangentPass<T>
            {
                Theta = theta.Slice(offset, length), V = v.Slice(offset, length),
                X = l == 0 ? x : ws.Primal.A(l - 1, rows), XDot = l == 0 ? default : ws.Tangent.A(l - 1, rows),
                Y = ws.Primal.A(l, rows), Scratch = ws.Primal.Z(l, rows),
                YDot = ws.Tangent.A(l, rows), ScratchDot = ws.Tangent.Z(l, rows), LayerScratch = ws.Primal.LayerScratch(l),
                Lengths = ws.Primal.Lengths(rows),
                Rows = rows, Time = ws.Primal.Time, Threads = ws.Primal.Threads,
            };
            if (spec.Layers[l] is Dense d) DenseKernel.ForwardTangent(d, in pass);
            else spec.Layers[l].ForwardTangent(in pass);
        }
    }

    /// <summary>The seeds of the backward pass at the output, scaled by 1/m (C is the batch mean):
    /// <list type="bullet">
    /// <item>Hessian: δᴸ into the forward pass's δ buffer and R{δᴸ} into the tangent's; for a matching pair δᴸ is the fused
    /// output error and R{δᴸ} = H_z żᴸ (returns true: both are already δ); otherwise u = ∂ℓ/∂aᴸ and
    /// Ru = diag(∂²ℓ/∂a²) ȧᴸ, and the last layer's BackwardTangent applies the activation (returns false).</item>
    /// <item>Gauss–Newton: H_z żᴸ at zᴸ (true) or diag(∂²ℓ/∂a²) ȧᴸ at aᴸ (false), into the tangent's δ buffer.</item>
    /// <item>True Fisher: the same with the targets' expectation under the model: Σy = 1 for softmax, y = a in ∂²ℓ/∂a².</item>
    /// <item>Empirical Fisher: eₓ (eₓ · żᴸₓ)/m with eₓ = ∂ℓₓ/∂zᴸ (true).</item>
    /// </list></summary>
    private static bool OutputSeed<T>(NetworkSpec spec, ReadOnlySpan<T> y, CurvatureWorkspace<T> ws, int rows, SeedKind kind)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int last = spec.Layers.Count - 1, width = spec.Outputs;
        Shapes.RequireLength(y, rows, width, "targets");
        Shapes.RequireFinite(y, width, "targets");
        var a = ws.Primal.A(last, rows);
        var aDot = ws.Tangent.A(last, rows);
        var seed = ws.Tangent.Delta(last, rows);
        T inverse = T.One / T.CreateChecked(rows);
        if (kind == SeedKind.EmpiricalFisher)
        {
            Equations.OutputDelta(spec, y, ws.Primal, rows);   // eₓ/m
            var e = ws.Primal.Delta(last, rows);
            var zDot = spec.Layers[last] is Dense ? ws.Tangent.Z(last, rows) : aDot;
            T m = T.CreateChecked(rows);
            for (int r = 0; r < rows * width; r += width)
                TensorPrimitives.Multiply(e.Slice(r, width), m * TensorPrimitives.Dot<T>(e.Slice(r, width), zDot.Slice(r, width)), seed.Slice(r, width));
            return true;
        }
        if (SplitsAtLogits(spec.Loss, spec.OutputActivation))
        {
            if (kind == SeedKind.Hessian) Equations.OutputDelta(spec, y, ws.Primal, rows);
            // H_z ż: ȧ for the element-wise pairs; for softmax + cross-entropy Σy·J_softmax ż = Σy·ȧ (Σy = 1 under the model)
            bool scaleBySum = spec.OutputActivation == ActivationKind.Softmax && kind != SeedKind.TrueFisher;
            for (int r = 0; r < rows * width; r += width)
                TensorPrimitives.Multiply(aDot.Slice(r, width), scaleBySum ? TensorPrimitives.Sum<T>(y.Slice(r, width)) * inverse : inverse,
                    seed.Slice(r, width));
            return true;
        }
        var step = new SecondDerivativeSeed<T>
        {
            A = a, Y = kind == SeedKind.TrueFisher ? a : y, Seed = seed,
            Gradient = kind == SeedKind.Hessian ? ws.Primal.Delta(last, rows) : default,
        };
        LossDispatch.Run(spec.Loss, ref step);
        TensorPrimitives.Multiply(seed, aDot, seed);
        TensorPrimitives.Multiply(seed, inverse, seed);
        if (kind == SeedKind.Hessian) TensorPrimitives.Multiply(ws.Primal.Delta(last, rows), inverse, ws.Primal.Delta(last, rows));
        return false;
    }

    /// <summary>diag(∂²ℓ/∂a²) into Seed and, when Gradient is not empty, ∂ℓ/∂a into it.</summary>
    private ref struct SecondDerivativeSeed<T> : ILossAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> A, Y;
        public Span<T> Seed, Gradient;

        public readonly void Invoke<TLoss>() where TLoss : struct, ILoss
        {
            TLoss.SecondDerivative(A, Y, Seed);
            if (!Gradient.IsEmpty) TLoss.Gradient(A, Y, Gradient);
        }
    }

    private static void RequireWorkspace<T>(NetworkSpec spec, CurvatureWorkspace<T> ws) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(ws);
        if (!ReferenceEquals(ws.Spec, spec) && ws.Spec != spec)
            throw new ArgumentException($"the curvature workspace was made for {ws.Spec}, not {spec}", nameof(ws));
    }

    /// <summary>The rows of the batch <see cref="Forward{T}"/> ran on, after checking every length.</summary>
    private static int Rows<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, CurvatureWorkspace<T> ws,
        ReadOnlySpan<T> v, ReadOnlySpan<T> result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireWorkspace(spec, ws);
        int rows = Equations.Check(spec, theta, x, ws.Primal);
        if (v.Length != theta.Length) Shapes.ThrowLengths("v", v.Length, "theta", theta.Length);
        if (result.Length != theta.Length) Shapes.ThrowLengths("the product", result.Length, "theta", theta.Length);
        if (rows != ws.Rows)
            throw new ArgumentException($"x has {rows} rows but Curvature.Forward last ran on {ws.Rows}; run Curvature.Forward on this θ and x first", nameof(x));
        return rows;
    }
}
