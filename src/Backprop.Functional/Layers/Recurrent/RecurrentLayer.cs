using System.Globalization;

namespace Backprop.Functional;

/// <summary>Where a recurrent layer's initial state h₀ (and an LSTM's c₀) comes from.</summary>
public enum InitialState
{
    /// <summary>Zero for every sequence (PyTorch's default when no h₀ is passed).</summary>
    Zero,

    /// <summary>Learned: parameters <c>h0</c> [hidden] (and <c>c0</c>) in θ, shared by every sequence, trained with
    /// the rest (∂C/∂h₀ summed over the batch).</summary>
    Learned,

    /// <summary>Carried over: whatever the workspace holds, left there by <see cref="Recurrent.CarryOver"/> at the end
    /// of the previous block (truncated BPTT, or generating one step at a time) or set by
    /// <see cref="Recurrent.ResetState"/>; no gradient flows into the previous block.</summary>
    Carried,
}

/// <summary>What every recurrent kind (<see cref="Rnn"/>, <see cref="Lstm"/>, <see cref="Gru"/>) shares: it reads a
/// sequence [batch × time × <see cref="Layer.Inputs"/>] and gives either every step's state [batch × time × hidden]
/// (<see cref="ReturnSequences"/>) or the state after each sequence's last step [batch × hidden].
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <typeparam name="TSelf">The kind's description record.</typeparam>
/// <typeparam name="TKernel">The kind's kernels.</typeparam>
public abstract record RecurrentLayer<TSelf, TKernel> : Layer<TSelf, TKernel>
    where TSelf : RecurrentLayer<TSelf, TKernel>
    where TKernel : struct, ILayerKernel<TSelf>
{
    private protected RecurrentLayer(int inputs, int hidden)
    {
        Inputs = inputs > 0 ? inputs : throw new ArgumentOutOfRangeException(nameof(inputs), inputs, "a recurrent layer needs at least one input");
        Hidden = hidden > 0 ? hidden : throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "a recurrent layer needs at least one hidden unit");
    }

    /// <summary>Features per time step of the input sequence.</summary>
    public override int Inputs { get; }

    /// <summary>Width of the hidden state h.</summary>
    public int Hidden { get; }

    /// <summary>The output width: <see cref="Hidden"/>.</summary>
    public override int Outputs => Hidden;

    /// <summary>Whether the output is every step's h [batch × time × hidden] (for a next recurrent layer or a
    /// per-step head) rather than the h after each sequence's last step [batch × hidden] (for a head on the whole
    /// sequence).</summary>
    public bool ReturnSequences { get; init; }

    /// <summary>Where h₀ (c₀) comes from.</summary>
    public InitialState InitialState { get; init; }

    /// <summary>A sequence [batch × time × <see cref="Layer.Inputs"/>].</summary>
    public override EdgeShape Input => new(Inputs, IsSequence: true);

    /// <summary>[batch × time × hidden] with <see cref="ReturnSequences"/>, else [batch × hidden].</summary>
    public override EdgeShape Output => new(Hidden, ReturnSequences);

    /// <inheritdoc/>
    protected override bool PrintMembers(System.Text.StringBuilder builder)
    {
        base.PrintMembers(builder);
        builder.Append(", ReturnSequences = ").Append(ReturnSequences).Append(", InitialState = ").Append(InitialState);
        return true;
    }

    /// <summary><c>inputs-hidden</c>, then <c>:sequences</c> and <c>:learned-state</c> / <c>:carried-state</c> when set.</summary>
    internal string FormatShared(string? activation = null)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{Inputs}-{Hidden}");
        if (activation is not null) text += ":" + activation;
        if (ReturnSequences) text += ":" + SequencesFlag;
        if (InitialState == InitialState.Learned) text += ":" + LearnedFlag;
        else if (InitialState == InitialState.Carried) text += ":" + CarriedFlag;
        return text;
    }

    internal const string SequencesFlag = "sequences", LearnedFlag = "learned-state", CarriedFlag = "carried-state";
}

/// <summary>Parses the shared argument text of the recurrent kinds.</summary>
internal static class RecurrentText
{
    /// <summary>A gated kind's arguments (<c>inputs-hidden</c> and the shared flags only), made into a layer by
    /// <paramref name="make"/>.</summary>
    internal static bool TryParseGated<TLayer>(string arguments, string kind, Func<int, int, bool, InitialState, TLayer> make,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TLayer? layer, out string reason) where TLayer : Layer
    {
        layer = null;
        if (!TryParse(arguments, kind, out int inputs, out int hidden, out bool sequences, out var initial, out string? other, out reason))
            return false;
        if (other is not null)
        {
            reason = $"unknown {kind} option \"{InputText.Excerpt(other)}\" (known: sequences, learned-state, carried-state)";
            return false;
        }
        layer = make(inputs, hidden, sequences, initial);
        return true;
    }

    /// <summary><c>inputs-hidden[:flag]…</c>; <paramref name="other"/> receives one token that is not a shared flag
    /// (an Rnn's activation), or null.</summary>
    internal static bool TryParse(string arguments, string kind, out int inputs, out int hidden, out bool sequences,
        out InitialState initial, out string? other, out string reason)
    {
        inputs = hidden = 0;
        sequences = false;
        initial = InitialState.Zero;
        other = null;
        var parts = arguments.Split(':');
        int dash = parts[0].IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0
            || !int.TryParse(parts[0].AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out inputs) || inputs <= 0
            || !int.TryParse(parts[0].AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out hidden) || hidden <= 0)
        {
            reason = $"\"{InputText.Excerpt(arguments)}\" is not of the form inputs-hidden[:sequences][:learned-state|:carried-state] with positive widths, e.g. {kind}(28-128)";
            return false;
        }
        for (int i = 1; i < parts.Length; i++)
        {
            switch (parts[i])
            {
                case "sequences": sequences = true; break;
                case "learned-state": initial = InitialState.Learned; break;
                case "carried-state": initial = InitialState.Carried; break;
                default:
                    if (other is not null)
                    {
                        reason = $"unknown {kind} option \"{InputText.Excerpt(parts[i])}\" (known: sequences, learned-state, carried-state)";
                        return false;
                    }
                    other = parts[i];
                    break;
            }
        }
        reason = "";
        return true;
    }
}
