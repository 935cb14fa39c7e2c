namespace Backprop.Functional;

/// <summary>Training went wrong and <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, TrainingCheckpoint{T}?, Action{TrainingCheckpoint{T}}?, Action{EpochResult}?, Action{int, int}?)"/>
/// stopped: the running mean cost rose far above its start (<see cref="TrainingOptions.DivergenceFactor"/>), or a
/// cost was NaN or infinite (<see cref="NonFiniteException"/>, a subclass). The message names the epoch, the step
/// and the layer; so do <see cref="Epoch"/>, <see cref="Step"/> and <see cref="Layer"/>.
/// <para>Threads: immutable; safe from any thread.</para></summary>
public class TrainingDivergedException : ArithmeticException
{
    /// <summary>Creates the exception with a message naming where it happened.</summary>
    public TrainingDivergedException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException() { }

    /// <summary>Creates the exception with an inner exception.</summary>
    public TrainingDivergedException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The 1-based epoch in which training stopped (0 when not known).</summary>
    public int Epoch { get; init; }

    /// <summary>The 1-based step (optimizer update) at which training stopped (0 when not known).</summary>
    public long Step { get; init; }

    /// <summary>The 0-based layer named in the message: the first with a non-finite zˡ or aˡ, or the one with the
    /// largest |zˡ| (−1 when no layer stands out).</summary>
    public int Layer { get; init; } = -1;
}
