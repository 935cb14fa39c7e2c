namespace Backprop.Functional;

/// <summary>What flows along an edge between two layers, per sample: features <c>[batch × n]</c>, or a sequence
/// <c>[batch × time × n]</c> (batch first, then time, row-major).
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Width">n, the features per sample (per time step for a sequence).</param>
/// <param name="IsSequence">True for <c>[batch × time × n]</c>.</param>
public readonly record struct EdgeShape(int Width, bool IsSequence = false)
{
    /// <summary>Values per sample: n, or time × n for a sequence.</summary>
    public int PerSample(int time) => IsSequence ? checked(time * Width) : Width;

    /// <summary><c>[batch × n]</c> or <c>[batch × time × n]</c> with n written out.</summary>
    public override string ToString() => IsSequence ? $"[batch × time × {Width}]" : $"[batch × {Width}]";
}
