using System.Numerics;

namespace Backprop.Functional;

public static partial class Equations
{
    /// <summary>The forward pass of a network: for l = 1 … L, each layer's Forward (dense: zˡ = Wˡaˡ⁻¹ + bˡ and
    /// aˡ = σ(zˡ)), with a⁰ = x. Every output and every layer's scratch (dense: zˡ) stays in the workspace for the
    /// backward pass.</summary>
    /// <param name="spec">The network's layers.</param>
    /// <param name="theta">The flat parameter vector θ in <see cref="NetworkSpec.Layout"/>.</param>
    /// <param name="x">Inputs, [batch × inputs], batch ≤ the workspace's.</param>
    /// <param name="ws">Scratch sized for <paramref name="spec"/>.</param>
    /// <returns>aᴸ, [batch × outputs], a view into the workspace.</returns>
    /// <exception cref="ArgumentException">A shape does not match, or x holds NaN or infinity.</exception>
    public static ReadOnlySpan<T> Forward<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = Check(spec, theta, x, ws);
        if (ws.Threads > 1 && InputCheckAfter)
        {
            // x checked after the pass, which writes only the workspace: a check first pulled all of x into the calling
            // core's cache, and the worker then read its copy from there, across the cores (bench/RESULTS.md, "Sixth pass")
            ForwardFrom(spec, theta, x, ws, 0, rows);
            Shapes.RequireFinite(x, spec.Inputs, "input");
            StepProbe.Phase(StepProbe.InputCheck, 15);
            return ws.A(spec.Layers.Count - 1, rows);
        }
        Shapes.RequireFinite(x, spec.Inputs, "input");
        ForwardFrom(spec, theta, x, ws, 0, rows);
        return ws.A(spec.Layers.Count - 1, rows);
    }

    /// <summary>With two or more threads, x is checked for NaN and infinity after the forward pass rather than before
    /// (the same exception; the bench switches it off by reflection to compare).</summary>
    internal static bool InputCheckAfter = true;

    /// <summary>Runs layers <paramref name="first"/> … L − 1; layer <paramref name="first"/> reads x when it is 0,
    /// else aᶠⁱʳˢᵗ⁻¹ from the workspace. One type test per layer: a dense layer's kernel is called directly (a closed
    /// generic call), any other kind through its <see cref="Layer{TSelf, TKernel}"/> (one virtual call).</summary>
    internal static void ForwardFrom<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws,
        int first, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layout = spec.Layout;
        var lengths = ws.Lengths(rows);
        for (int l = first; l < spec.Layers.Count; l++)
        {
            var layer = spec.Layers[l];
            if (StepProbe.Recording) StepProbe.CurrentLayer = l;
            var pass = new ForwardPass<T>
            {
                Theta = theta.Slice(layout.LayerOffset(l), layout.LayerLength(l)),
                X = l == 0 ? x : ws.A(l - 1, rows),
                Y = ws.A(l, rows),
                Scratch = ws.Z(l, rows),
                LayerScratch = ws.LayerScratch(l),
                Rows = rows,
                Time = ws.Time,
                Lengths = lengths,
                Threads = ws.Threads,
                Plans = ws.Plans(l),
                WeightsKept = ws.Kept(l),
            };
            if (layer is Dense d) DenseKernel.Forward(d, in pass);
            else layer.Forward(in pass);
        }
    }

    /// <summary>aˡ = σ(zˡ) from the zˡ in the workspace (used to re-run the pass after zˡ was changed).</summary>
    internal static void Activate<T>(NetworkSpec spec, Workspace<T> ws, int layer, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var step = new Activation<T> { Z = ws.Z(layer, rows), A = ws.A(layer, rows), Width = spec.Layers[layer].Outputs };
        ActivationDispatch.Run(((Dense)spec.Layers[layer]).Activation, ref step);
    }

    internal static int Check<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(ws);
        if (theta.Length != spec.Layout.Count) Shapes.ThrowLengths("theta", theta.Length, "the layout", spec.Layout.Count);
        ws.RequireMadeFor(spec);
        return ws.RowsOf(x.Length);
    }

    private ref struct Activation<T> : IActivationAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z;
        public Span<T> A;
        public int Width;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation => TAct.Apply(Z, A, Width);
    }
}
