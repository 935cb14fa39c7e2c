using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Truncated backpropagation through time, BPTT(k₁, k₂) (Williams &amp; Peng 1990): every k₁ steps, the losses
/// of those k₁ steps are backpropagated k₂ steps back; <see cref="Of(int)"/> k is k₁ = k₂ = k (disjoint blocks).
/// <para>Which losses reach which steps: window 0 is steps [0, k₂) and counts every loss in it (full BPTT inside it);
/// window w ≥ 1 is steps [w·k₁, w·k₁ + k₂) and counts only the losses of its last k₁ steps, so every step's loss is
/// counted exactly once, and a loss at step p ≥ k₂ reaches back over between k₂ − k₁ + 1 and k₂ steps (itself
/// included), never before its window's start. The state enters each window as carried from step w·k₁ of the
/// previous pass, without gradient.</para>
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="K1">Steps between updates (the losses each window counts).</param>
/// <param name="K2">Steps each window runs, and so how far back a gradient flows; ≥ k₁.</param>
public readonly record struct Truncation(int K1, int K2)
{
    /// <summary>k₁ and k₂ checked: 1 ≤ k₁ ≤ k₂.</summary>
    public int K1 { get; } = K1 >= 1 ? K1 : throw new ArgumentOutOfRangeException(nameof(K1), K1, "k₁ (steps between updates) must be at least 1");

    /// <summary>k₂, at least k₁.</summary>
    public int K2 { get; } = K2 >= K1 && K2 >= 1 ? K2 : throw new ArgumentOutOfRangeException(nameof(K2), K2, $"k₂ (steps the gradient flows back) must be at least k₁ = {K1}");

    /// <summary>k₁ = k₂ = k.</summary>
    public static Truncation Of(int k) => new(k, k);

    /// <summary>Windows over a sequence of <paramref name="time"/> steps: 1 when time ≤ k₂, else 1 + (time − k₂)/k₁.</summary>
    /// <exception cref="ArgumentException">time &gt; k₂ and (time − k₂) is not a multiple of k₁.</exception>
    public int Windows(int time)
    {
        Require();
        ArgumentOutOfRangeException.ThrowIfLessThan(time, 1);
        if (time <= K2) return 1;
        if ((time - K2) % K1 != 0)
            throw new ArgumentException($"{time} steps do not split into windows of k₂ = {K2} advancing by k₁ = {K1}: time − k₂ must be a multiple of k₁", nameof(time));
        return 1 + (time - K2) / K1;
    }

    /// <summary>Refuses <c>default(Truncation)</c> (and <c>new Truncation()</c>), which skip the checks above: k₁ = 0
    /// would divide by zero or make windows that never advance.</summary>
    /// <exception cref="ArgumentException">k₁ &lt; 1 or k₂ &lt; k₁.</exception>
    internal void Require()
    {
        if (K1 < 1 || K2 < K1)
            throw new ArgumentException($"{this} is not a truncation (default(Truncation) is k₁ = k₂ = 0): use Truncation.Of(k) or new Truncation(k₁, k₂) with 1 ≤ k₁ ≤ k₂", "truncation");
    }

    /// <summary>"k₁ = …, k₂ = …".</summary>
    public override string ToString() => $"k₁ = {K1}, k₂ = {K2}";
}

/// <summary>Truncated BPTT over networks whose recurrent layers carry their state (<see cref="InitialState.Carried"/>)
/// and whose loss is taken at every step (a per-step head): one update per window, or the truncated gradient of whole
/// sequences at a fixed θ. See <see cref="Truncation"/> for which losses reach which steps.</summary>
public static class Bptt
{
    /// <summary>One update on window <paramref name="window"/> of a stream: x, y are the window's k₂ steps,
    /// [rows × k₂ × …] (the first window may be any length up to k₂, with the state's workspace made for that time);
    /// the losses of its last k₁ steps count (all of them in window 0); then the state after its k₁-th step is carried
    /// into the next window. The state's workspace must have been made with time = k₂ and reset
    /// (<see cref="Recurrent.ResetState"/>) at the stream's start. Allocates nothing.</summary>
    /// <returns>The window's mean cost over the counted steps, before the update.</returns>
    public static T Step<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, TrainState<T> train, Truncation truncation, int window)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        truncation.Require();
        ArgumentOutOfRangeException.ThrowIfNegative(window);
        var ws = train.Workspace;
        if (truncation.K1 > ws.Time)
            throw new ArgumentException($"{truncation}: a window of the state's workspace has {ws.Time} steps, fewer than k₁; make the TrainState with time = k₂", nameof(truncation));
        ws.LossFrom = window == 0 ? 0 : ws.Time - truncation.K1;
        try
        {
            T cost = Trainer.Step(network, x, y, train);
            Recurrent.CarryOver(network.Spec, ws, ws.RowsOf(x.Length), truncation.K1);
            return cost;
        }
        finally
        {
            ws.LossFrom = 0;   // the workspace serves whole-sequence passes again
        }
    }

    /// <summary>The truncated gradient of whole sequences at a fixed θ: the sum over the windows of
    /// <paramref name="truncation"/> of the gradient of each window's mean counted cost, the state carried between
    /// windows without gradient. With k₁ = k₂ ≥ time it is the full BPTT gradient of the mean cost.</summary>
    /// <param name="network">Every recurrent layer must carry its state (<see cref="InitialState.Carried"/>), and the last
    /// layer must give a sequence (a per-step head).</param>
    /// <param name="x">[rows × time × inputs].</param>
    /// <param name="y">[rows × time × outputs].</param>
    /// <param name="time">Steps per sequence.</param>
    /// <param name="truncation">k₁, k₂.</param>
    /// <param name="gradient">Written: Σ over windows of ∂C_w/∂θ.</param>
    /// <returns>Σ over windows of the window's mean counted cost.</returns>
    public static T Gradient<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, int time, Truncation truncation, Span<T> gradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        var spec = network.Spec;
        RequireStreaming(spec);
        int windows = truncation.Windows(time);
        int inputs = spec.Inputs, outputs = spec.Outputs;
        if ((long)time * inputs > x.Length || (long)time * outputs > y.Length)   // also keeps time · width inside int below
            throw new ArgumentOutOfRangeException(nameof(time), time, $"x has {x.Length} values and y {y.Length}: not one sequence of {time} steps × {inputs} inputs and {outputs} outputs");
        Shapes.RequireRows(x.Length, time * inputs, "x");
        int rows = x.Length / (time * inputs);
        Shapes.RequireLength(y, rows, time * outputs, "y");
        if (gradient.Length != spec.Layout.Count) Shapes.ThrowLengths("gradient", gradient.Length, "theta", spec.Layout.Count);
        int span = Math.Min(truncation.K2, time);
        using var ws = network.CreateWorkspace(rows, 1, span);
        using var part = network.CreateGradient();
        var xw = new T[rows * span * inputs];
        var yw = new T[rows * span * outputs];
        gradient.Clear();
        Recurrent.ResetState(spec, ws, rows);
        T total = T.Zero;
        for (int w = 0; w < windows; w++)
        {
            int start = w * truncation.K1;
            for (int r = 0; r < rows; r++)
            {
                x.Slice((r * time + start) * inputs, span * inputs).CopyTo(xw.AsSpan(r * span * inputs));
                y.Slice((r * time + start) * outputs, span * outputs).CopyTo(yw.AsSpan(r * span * outputs));
            }
            ws.LossFrom = w == 0 ? 0 : span - truncation.K1;
            network.Forward(xw, ws);
            total += network.Backward(xw, yw, ws, part.Span);
            TensorPrimitives.Add(gradient, part.Span, gradient);
            if (w + 1 < windows) Recurrent.CarryOver(spec, ws, rows, truncation.K1);
        }
        return total;
    }

    private static void RequireStreaming(NetworkSpec spec)
    {
        if (!spec.Layers[^1].Output.IsSequence)
            throw new ArgumentException($"truncated BPTT takes a loss at every step: the last layer of {spec} gives {spec.Layers[^1].Output}; use a per-step head (Dense {{ PerStep = true }})");
        for (int l = 0; l < spec.Layers.Count; l++)
            if (spec.Layers[l] is Lstm { InitialState: not InitialState.Carried } or Gru { InitialState: not InitialState.Carried } or Rnn { InitialState: not InitialState.Carried })
                throw new ArgumentException($"truncated BPTT carries the state between windows: layer {l} ({spec.Layers[l].Kind}) must have InitialState = Carried");
    }
}
