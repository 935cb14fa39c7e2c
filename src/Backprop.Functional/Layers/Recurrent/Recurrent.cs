using System.Numerics;

namespace Backprop.Functional;

/// <summary>The state a network's recurrent layers keep in a workspace between calls: reset it, carry it from one
/// block of a stream to the next (truncated BPTT, generation one step at a time), and read ∂C/∂h₀.
/// <para>Threads: one thread per workspace, as for the workspace itself.</para></summary>
public static class Recurrent
{
    /// <summary>Sets every recurrent layer's initial state h₀ (c₀) in <paramref name="ws"/> to zero for the first
    /// <paramref name="rows"/> rows: the start of new streams for layers with <see cref="InitialState.Carried"/>.</summary>
    public static void ResetState<T>(NetworkSpec spec, Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(ws);
        ws.RequireMadeFor(spec);
        for (int l = 0; l < spec.Layers.Count; l++)
            if (Locate(spec.Layers[l], ws, rows) is { } at)
            {
                var s = ws.Scratch(l, rows);
                s.Slice(at.H, at.Step).Clear();
                if (at.HasCell) s.Slice(at.C, at.Step).Clear();
            }
    }

    /// <summary>Carries the state over: h after step <paramref name="fromStep"/> (1 … time; 0 means after the last
    /// step, time) of the last forward pass becomes h₀ of the next, for every recurrent layer (c likewise). Layers with
    /// <see cref="InitialState.Carried"/> start from it; no gradient flows back across the boundary.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fromStep"/> is outside 0 … time.</exception>
    public static void CarryOver<T>(NetworkSpec spec, Workspace<T> ws, int rows, int fromStep = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(ws);
        ws.RequireMadeFor(spec);
        ArgumentOutOfRangeException.ThrowIfNegative(fromStep);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fromStep, ws.Time);
        int step = fromStep == 0 ? ws.Time : fromStep;
        for (int l = 0; l < spec.Layers.Count; l++)
            if (Locate(spec.Layers[l], ws, rows) is { } at)
            {
                var s = ws.Scratch(l, rows);
                s.Slice(at.H + step * at.Step, at.Step).CopyTo(s.Slice(at.H, at.Step));
                if (at.HasCell) s.Slice(at.C + step * at.Step, at.Step).CopyTo(s.Slice(at.C, at.Step));
            }
    }

    /// <summary>h₀ of layer <paramref name="layer"/> for the first <paramref name="rows"/> rows, [rows × hidden] (c₀ follows
    /// for an LSTM with <paramref name="cell"/>): writable, so a caller can set the state it carries.</summary>
    /// <exception cref="ArgumentException">The layer is not recurrent, or an LSTM's c₀ is asked of another kind.</exception>
    public static Span<T> InitialState<T>(NetworkSpec spec, Workspace<T> ws, int layer, int rows, bool cell = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var at = Require(spec, ws, layer, rows, cell);
        return ws.Scratch(layer, rows).Slice(cell ? at.C : at.H, at.Step);
    }

    /// <summary>The last state of layer <paramref name="layer"/> after a forward pass, [rows × hidden]: h (or an LSTM's c) after
    /// each row's last step.</summary>
    public static ReadOnlySpan<T> FinalState<T>(NetworkSpec spec, Workspace<T> ws, int layer, int rows, bool cell = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var at = Require(spec, ws, layer, rows, cell);
        return ws.Scratch(layer, rows).Slice((cell ? at.C : at.H) + ws.Time * at.Step, at.Step);
    }

    /// <summary>∂C/∂h₀ of layer <paramref name="layer"/> after a backward pass, [rows × hidden] (∂C/∂c₀ with
    /// <paramref name="cell"/>): the initial state's own gradient, whatever its <see cref="Functional.InitialState"/>.</summary>
    public static ReadOnlySpan<T> InitialStateGradient<T>(NetworkSpec spec, Workspace<T> ws, int layer, int rows, bool cell = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var at = Require(spec, ws, layer, rows, cell);
        return ws.Scratch(layer, rows).Slice(at.D0 + (cell ? at.Step : 0), at.Step);
    }

    /// <summary>‖∂C/∂hₜ‖ of layer <paramref name="layer"/> after a backward pass, for t = 0 … time − 1 (hₜ the state
    /// step t gives; the norm over the batch's rows and units): how the gradient fades (or grows) with the distance
    /// from the loss, the vanishing-gradient picture. Recorded by every backward pass at the cost of one norm per step.</summary>
    public static ReadOnlySpan<T> StateGradientNorms<T>(NetworkSpec spec, Workspace<T> ws, int layer, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var at = Require(spec, ws, layer, rows, cell: false);
        return ws.Scratch(layer, rows).Slice(at.Norms, ws.Time);
    }

    private static Where Require<T>(NetworkSpec spec, Workspace<T> ws, int layer, int rows, bool cell) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(ws);
        ws.RequireMadeFor(spec);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, spec.Layers.Count);
        var at = Locate(spec.Layers[layer], ws, rows)
            ?? throw new ArgumentException($"layer {layer} ({spec.Layers[layer].Kind}) is not recurrent", nameof(layer));
        if (cell && !at.HasCell) throw new ArgumentException($"layer {layer} ({spec.Layers[layer].Kind}) has no cell state c; only an Lstm has", nameof(cell));
        return at;
    }

    private readonly record struct Where(int H, int C, int D0, int Norms, int Step, bool HasCell);

    private static Where? Locate<T>(Layer layer, Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T> => layer switch
    {
        Lstm l => Of(Recurrence<LstmCell>.Layout(l.Inputs, l.Hidden, rows, ws.Time), true),
        Gru g => Of(Recurrence<GruCell>.Layout(g.Inputs, g.Hidden, rows, ws.Time), false),
        Rnn r => Of(Recurrence<RnnCell<TanhPhi>>.Layout(r.Inputs, r.Hidden, rows, ws.Time), false),
        _ => null,
    };

    private static Where Of(in RecurrentLayout at, bool cell) => new(at.H, at.C, at.D0, at.Norms, at.Step, cell);
}
