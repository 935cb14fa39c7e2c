using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Backprop.Functional;

/// <summary>The right-hand side f(h, t; θ) of an ODE block: a chain of <see cref="Dense"/> layers from the state
/// (and, when <see cref="TimeInput"/>, the time t as one more input column) back to the state's width. Its
/// parameters are the layers' tensors in order (<c>f.{k}.weight</c>, <c>f.{k}.bias</c>).
/// <para>Threads: immutable.</para></summary>
public sealed record OdeFunction
{
    /// <summary>f over a state of <paramref name="dimension"/> values through <paramref name="layers"/>.</summary>
    /// <exception cref="ArgumentException">The chain does not start at dimension (+ 1 for time), does not end at
    /// dimension, a width does not match the next layer's, or a layer is Softmax or per-step.</exception>
    public OdeFunction(int dimension, IReadOnlyList<Dense> layers, bool timeInput = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("f needs at least one Dense layer", nameof(layers));
        int expected = dimension + (timeInput ? 1 : 0);
        for (int k = 0; k < layers.Count; k++)
        {
            var layer = layers[k] ?? throw new ArgumentException($"f's layer {k} is null", nameof(layers));
            if (layer.Inputs != expected)
                throw new ArgumentException(k == 0
                    ? $"f's first layer reads {layer.Inputs} values but the state has {dimension}{(timeInput ? " and the time 1" : "")}"
                    : $"f's layer {k} reads {layer.Inputs} values but layer {k - 1} writes {expected}", nameof(layers));
            if (layer.Activation == ActivationKind.Softmax || layer.PerStep)
                throw new ArgumentException($"f's layer {k} is {(layer.PerStep ? "per-step" : "Softmax")}; f's layers are element-wise dense layers", nameof(layers));
            expected = layer.Outputs;
        }
        if (expected != dimension)
            throw new ArgumentException($"f's last layer writes {expected} values but dh/dt has the state's {dimension}", nameof(layers));
        Dimension = dimension;
        TimeInput = timeInput;
        Layers = [.. layers];
    }

    /// <summary>f as a chain of widths and activations: <c>Create(2, true, (50, Tanh), (2, Identity))</c> is
    /// 3→50 tanh, 50→2 linear.</summary>
    public static OdeFunction Create(int dimension, bool timeInput, params ReadOnlySpan<(int Width, ActivationKind Activation)> layers)
    {
        var list = new List<Dense>(layers.Length);
        int inputs = dimension + (timeInput ? 1 : 0);
        foreach (var (width, activation) in layers)
        {
            list.Add(new Dense(inputs, width, activation));
            inputs = width;
        }
        return new OdeFunction(dimension, list, timeInput);
    }

    /// <summary>Width of the state h.</summary>
    public int Dimension { get; }

    /// <summary>Whether t is f's last input column.</summary>
    public bool TimeInput { get; }

    /// <summary>f's layers, in order.</summary>
    public ImmutableArray<Dense> Layers { get; }

    /// <summary>Width of f's input: the state, and t when <see cref="TimeInput"/>.</summary>
    public int InputWidth => Dimension + (TimeInput ? 1 : 0);

    /// <summary>θ's length for f.</summary>
    public int ParameterCount
    {
        get
        {
            long n = 0;
            foreach (var layer in Layers) n += layer.ParameterCount;
            return checked((int)n);
        }
    }

    /// <summary>f's tensors in θ order, named <c>f.{k}.weight</c> and <c>f.{k}.bias</c>.</summary>
    internal ParameterTensor[] Parameters()
    {
        var list = new List<ParameterTensor>();
        for (int k = 0; k < Layers.Length; k++)
        {
            list.Add(ParameterTensor.Matrix($"f.{k}.weight", Layers[k].Outputs, Layers[k].Inputs));
            list.Add(ParameterTensor.Vector($"f.{k}.bias", Layers[k].Outputs));
        }
        return [.. list];
    }

    /// <summary><c>50:Tanh-2:Identity</c> (each layer's width and activation), with <c>:time</c> first when t is an input.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        if (TimeInput) text.Append("time-");
        for (int k = 0; k < Layers.Length; k++)
        {
            if (k > 0) text.Append('-');
            text.Append(Layers[k].Outputs.ToString(CultureInfo.InvariantCulture)).Append(':').Append(Layers[k].Activation);
        }
        return text.ToString();
    }

    /// <summary>Parses what <see cref="Format"/> writes for a state of <paramref name="dimension"/>.</summary>
    public static bool TryParse(int dimension, string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out OdeFunction? f, out string reason)
    {
        ArgumentNullException.ThrowIfNull(text);
        f = null;
        var parts = text.Split('-');
        bool time = parts[0] == "time";
        var layers = new List<(int, ActivationKind)>();
        for (int i = time ? 1 : 0; i < parts.Length; i++)
        {
            int colon = parts[i].IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !int.TryParse(parts[i].AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out int width) || width <= 0
                || !LayerListText.TryParseName(parts[i][(colon + 1)..], out ActivationKind activation))
            {
                reason = $"f \"{InputText.Excerpt(text)}\" is not of the form [time-]WIDTH:Activation-…, e.g. 50:Tanh-2:Identity";
                return false;
            }
            layers.Add((width, activation));
        }
        try
        {
            f = Create(dimension, time, [.. layers]);
            reason = "";
            return true;
        }
        catch (ArgumentException e)
        {
            reason = e.Message.Split(" (Parameter")[0];
            return false;
        }
    }

    /// <summary>Value equality over the dimension, the time flag and the layers.</summary>
    public bool Equals(OdeFunction? other) =>
        other is not null && Dimension == other.Dimension && TimeInput == other.TimeInput && Layers.SequenceEqual(other.Layers);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Dimension, TimeInput, Layers.Length);

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Dimension = ").Append(Dimension).Append(", f = ").Append(Format());
        return true;
    }
}

/// <summary>How the gradient passes through an ODE block.</summary>
public enum OdeGradient
{
    /// <summary>Discretise-then-optimise: backpropagation through the solver's own steps, the exact gradient of the
    /// computed output. Keeps the state at every step (memory grows with the steps) and recomputes each step's stages
    /// on the way back (one more evaluation of f per stage).</summary>
    Discretise,

    /// <summary>The adjoint method (Chen et al., 2018): the augmented system [h, a = ∂C/∂h, ∂C/∂θ] integrated backward
    /// in time, h reconstructed by integrating backward from the end (or from the nearest checkpoint). Memory does not
    /// grow with the steps; the gradient is that of the continuous problem up to the solver's error, not of the computed
    /// output.</summary>
    Adjoint,
}
