using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>A continuous-depth layer (Chen et al., 2018): y = h(t₁) where dh/dt = f(h, t; θ) and h(t₀) = x, f a
/// small dense network (<see cref="OdeFunction"/>), integrated by <see cref="Solver"/>. Its gradient is
/// backpropagation through the solver's steps or the adjoint method (<see cref="Gradient"/>); with the adjoint,
/// <see cref="Checkpoints"/> forward states split [t₀, t₁] so that h is reconstructed backward only from the nearest
/// one. Parameters are f's, <c>f.{k}.weight</c> and <c>f.{k}.bias</c>.
/// <para>The batch is one system: an adaptive solver's steps are chosen for all rows together.</para>
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public sealed record OdeBlock : Layer<OdeBlock, OdeBlockKernel>
{
    /// <summary>h(<paramref name="end"/>) from h(<paramref name="start"/>) = x under f.</summary>
    /// <exception cref="ArgumentException">start or end is not finite or they are equal; checkpoints with discretise,
    /// or as many checkpoints as fixed steps.</exception>
    public OdeBlock(OdeFunction f, OdeSolver solver, double start = 0, double end = 1, OdeGradient gradient = OdeGradient.Adjoint, int checkpoints = 0)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(solver);
        if (!double.IsFinite(start) || !double.IsFinite(end) || start == end || !double.IsFinite(end - start))
            throw new ArgumentException($"the span [{start}, {end}] must be two different finite times whose difference is finite", nameof(end));
        if (!Enum.IsDefined(gradient)) throw new ArgumentOutOfRangeException(nameof(gradient), gradient, "not an OdeGradient");
        F = f;
        Solver = solver;
        Start = start;
        End = end;
        Gradient = gradient;
        Checkpoints = checkpoints;
        Plan = new OdePlan(f, solver, gradient, checkpoints, intervals: 1);
    }

    /// <summary>f(h, t; θ).</summary>
    public OdeFunction F { get; }

    /// <summary>The integrator.</summary>
    public OdeSolver Solver { get; }

    /// <summary>t₀.</summary>
    public double Start { get; }

    /// <summary>t₁.</summary>
    public double End { get; }

    /// <summary>How the gradient passes through.</summary>
    public OdeGradient Gradient { get; }

    /// <summary>Forward states kept for the adjoint's backward reconstruction of h (0: none, from h(t₁) only).</summary>
    public int Checkpoints { get; }

    internal OdePlan Plan { get; }

    /// <inheritdoc/>
    public override int Inputs => F.Dimension;

    /// <inheritdoc/>
    public override int Outputs => F.Dimension;

    /// <summary>The function evaluations and steps of the last forward (and backward) pass of layer
    /// <paramref name="layer"/> in <paramref name="workspace"/>.</summary>
    public static OdeStatistics Statistics<T>(NetworkSpec spec, Workspace<T> workspace, int layer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(workspace);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, spec.Layers.Count);
        if (spec.Layers[layer] is not OdeBlock)
            throw new ArgumentException($"layer {layer} ({spec.Layers[layer].Kind}) is not an ODE block", nameof(layer));
        return OdeEngine<T>.Read(workspace.LayerScratch(layer)[..OdePlan.StatisticsLength]);
    }

    /// <summary>Value equality over the description.</summary>
    public bool Equals(OdeBlock? other) =>
        other is not null && F.Equals(other.F) && Solver.Equals(other.Solver) && Start.Equals(other.Start) && End.Equals(other.End)
        && Gradient == other.Gradient && Checkpoints == other.Checkpoints;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(F, Solver, Start, End, Gradient, Checkpoints);

    /// <inheritdoc/>
    protected override bool PrintMembers(System.Text.StringBuilder builder)
    {
        base.PrintMembers(builder);
        builder.Append(", F = ").Append(F.Format()).Append(", Solver = ").Append(Solver.Format())
            .Append(CultureInfo.InvariantCulture, $", Span = [{Start}, {End}], Gradient = {Gradient}, Checkpoints = {Checkpoints}");
        return true;
    }
}

/// <summary>The kernels of an <see cref="OdeBlock"/>: Forward integrates, Backward is the chosen gradient; both run f
/// through the Dense kernels and keep everything in the layer's scratch (per row) and layer scratch (per batch).</summary>
public readonly struct OdeBlockKernel : ILayerKernel<OdeBlock>
{
    /// <summary><c>Ode</c>.</summary>
    public static string Kind => "Ode";

    /// <summary>f's tensors: <c>f.{k}.weight</c> [outputs × inputs], <c>f.{k}.bias</c> [outputs].</summary>
    public static ParameterTensor[] Parameters(OdeBlock layer) => layer.F.Parameters();

    /// <summary>The states the gradient keeps (every step for discretise, the checkpoints for the adjoint), f's
    /// activations and the integrator's buffers.</summary>
    public static int ScratchPerSample(OdeBlock layer, int time) => layer.Plan.PerRow;

    /// <summary>Statistics, the adaptive step log and the θ-sized buffers of the adjoint.</summary>
    public static int ScratchPerLayer(OdeBlock layer) => layer.Plan.PerLayer;

    /// <inheritdoc cref="ILayerKernel{TLayer}.Forward"/>
    public static void Forward<T>(OdeBlock layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var b = new OdeBuffers<T>(layer.Plan, p.Scratch, p.LayerScratch, p.Rows);
        ReadOnlySpan<double> times = [layer.Start, layer.End];
        OdeEngine<T>.Solve(layer.Plan, p.Theta, times, p.X, p.Y, ref b, p.Threads);
    }

    /// <inheritdoc cref="ILayerKernel{TLayer}.Backward"/>
    public static void Backward<T>(OdeBlock layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var b = new OdeBuffers<T>(layer.Plan, p.Scratch, p.LayerScratch, p.Rows);
        ReadOnlySpan<double> times = [layer.Start, layer.End];
        OdeEngine<T>.Gradient(layer.Plan, p.Theta, times, p.DY, p.DX, p.DTheta, ref b, p.Threads);
    }

    /// <summary><c>D;f;solver;start:end;gradient[:checkpoints]</c>, e.g. <c>2;time-50:Tanh-2:Identity;rk4:20;0:1;adjoint:4</c>.</summary>
    public static string Format(OdeBlock layer) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{layer.F.Dimension};{layer.F.Format()};{layer.Solver.Format()};{layer.Start:R}:{layer.End:R};{(layer.Gradient == OdeGradient.Adjoint ? "adjoint" : "discretise")}{(layer.Checkpoints > 0 ? ":" + layer.Checkpoints.ToString(CultureInfo.InvariantCulture) : "")}");

    /// <summary>Parses what <see cref="Format"/> writes.</summary>
    public static bool TryParse(string arguments, [NotNullWhen(true)] out OdeBlock? layer, out string reason)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        layer = null;
        var parts = arguments.Split(';');
        const string Form = "D;f;solver;start:end;adjoint[:checkpoints]|discretise, e.g. 2;50:Tanh-2:Identity;rk4:20;0:1;adjoint";
        if (parts.Length != 5 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int d) || d <= 0)
        {
            reason = $"\"{InputText.Excerpt(arguments)}\" is not of the form {Form}";
            return false;
        }
        if (!OdeFunction.TryParse(d, parts[1], out var f, out reason) || !OdeSolver.TryParse(parts[2], out var solver, out reason)) return false;
        var span = parts[3].Split(':');
        if (span.Length != 2 || !double.TryParse(span[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double start)
            || !double.TryParse(span[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double end))
        {
            reason = $"the span \"{InputText.Excerpt(parts[3])}\" is not start:end, e.g. 0:1";
            return false;
        }
        var gradient = parts[4].Split(':');
        int checkpoints = 0;
        bool ok = gradient[0] switch
        {
            "adjoint" => gradient.Length == 1 || (gradient.Length == 2 && int.TryParse(gradient[1], NumberStyles.None, CultureInfo.InvariantCulture, out checkpoints)),
            "discretise" => gradient.Length == 1,
            _ => false,
        };
        if (!ok)
        {
            reason = $"the gradient \"{InputText.Excerpt(parts[4])}\" is not adjoint, adjoint:CHECKPOINTS or discretise";
            return false;
        }
        try
        {
            layer = new OdeBlock(f, solver, start, end, gradient[0] == "adjoint" ? OdeGradient.Adjoint : OdeGradient.Discretise, checkpoints);
            reason = "";
            return true;
        }
        catch (ArgumentException e)
        {
            reason = e.Message.Split(" (Parameter")[0];
            return false;
        }
    }
}
