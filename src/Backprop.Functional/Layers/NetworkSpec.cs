namespace Backprop.Functional;

/// <summary>A whole network described: its layers in order and its cost. Immutable; validated on creation.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public sealed record NetworkSpec
{
    private readonly Layer[] _layers;

    /// <summary>A network of <paramref name="layers"/> trained on <paramref name="loss"/>.</summary>
    /// <exception cref="ArgumentException">The layers do not chain (the message names the layer and both edges), the
    /// last layer gives a sequence, or the loss does not fit the output activation.</exception>
    public NetworkSpec(IReadOnlyList<Layer> layers, LossKind loss)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Shapes.RequireChained(layers);
        _layers = [.. layers];
        var top = _layers[^1];
        if (top.Output.IsSequence && top is not Dense)
            throw new ArgumentException($"the last layer {_layers.Length - 1} ({top.Kind}) gives {top.Output}; a loss at every step takes a per-step dense head (Dense {{ PerStep = true }}), else the loss takes features [batch × n]", nameof(layers));
        Loss = loss;
        var output = top.OutputActivation;
        if (output != ActivationKind.Identity && top is not Dense && top.ScratchPerSample(1) != top.Outputs)
            throw new ArgumentException($"the last layer {_layers.Length - 1} ({top.Kind}) declares output activation {output} but does not keep its z [batch × {top.Outputs}] as its scratch", nameof(layers));
        OutputActivation = output;
        foreach (var layer in _layers)
            if (layer is not Dense && layer.ParameterTensors().Length > 0) DenseOnly = false;
        if (!LossDispatch.Fits(loss, output))
            throw new ArgumentException($"loss {loss} does not fit output activation {output}: {KindNames.Misfit(loss.ToString())}", nameof(loss));
        Layout = ParameterLayout.For(_layers);
    }

    /// <summary>A network of dense layers with the given widths, e.g. (784, 128, 10): <paramref name="hidden"/>
    /// between hidden layers, <paramref name="output"/> on the last.</summary>
    public static NetworkSpec Mlp(ReadOnlySpan<int> widths, ActivationKind hidden, ActivationKind output, LossKind loss)
    {
        if (widths.Length < 2) throw new ArgumentException("an MLP needs at least an input and an output width", nameof(widths));
        var layers = new Layer[widths.Length - 1];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = new Dense(widths[l], widths[l + 1], l == layers.Length - 1 ? output : hidden);
        return new NetworkSpec(layers, loss);
    }

    /// <summary>The activation the last layer's output passes through last (its <see cref="Layer.OutputActivation"/>):
    /// the one the loss fits and fuses with.</summary>
    public ActivationKind OutputActivation { get; }

    /// <summary>Whether every layer with parameters is <see cref="Dense"/>, so the fused online update
    /// (the fused step of <see cref="TrainingStep"/>) can form each layer's ∂C/∂θ itself.</summary>
    internal bool DenseOnly { get; } = true;

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>The cost.</summary>
    public LossKind Loss { get; }

    /// <summary>Where each layer's parameters sit in the flat vector.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>Width of the network's input.</summary>
    public int Inputs => _layers[0].Inputs;

    /// <summary>Width of the network's output.</summary>
    public int Outputs => _layers[^1].Outputs;

    /// <summary>Value equality: same layers, same loss.</summary>
    public bool Equals(NetworkSpec? other) =>
        other is not null && Loss == other.Loss && _layers.AsSpan().SequenceEqual(other._layers);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Loss, _layers.Length, _layers[0]);

    /// <summary>Readable form, e.g. <c>784-128(ReLU)-10(Softmax) SoftmaxCrossEntropy</c>; a layer of another kind
    /// reads <c>-Kind(arguments)</c>, e.g. <c>4-Gain(4)-3(Softmax)</c>.</summary>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(Inputs);
        foreach (var layer in _layers)
            if (layer is Dense d) sb.Append('-').Append(d.Outputs).Append('(').Append(d.Activation).Append(')');
            else sb.Append('-').Append(layer.Kind).Append('(').Append(layer.FormatArguments()).Append(')');
        return sb.Append(' ').Append(Loss).ToString();
    }
}
