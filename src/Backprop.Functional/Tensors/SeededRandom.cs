namespace Backprop.Functional;

/// <summary>A small, fully specified generator (SplitMix64), so a seed gives the same numbers on every
/// runtime, thread count and platform. A value type: copying it forks the stream.
/// <para>Threads: a mutable value: one thread at a time per copy (each copy is an independent stream).</para></summary>
public struct SeededRandom
{
    private ulong _state;

    /// <summary>A generator started from <paramref name="seed"/>.</summary>
    public SeededRandom(long seed) => _state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + 0x2545F4914F6CDD1DUL);

    /// <summary>The generator's whole state: <see cref="FromState"/> of it continues the same stream (checkpoints).</summary>
    public readonly ulong State => _state;

    /// <summary>A generator continuing from a <see cref="State"/>.</summary>
    public static SeededRandom FromState(ulong state) => new() { _state = state };

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1), 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="bound"/>).</summary>
    public int Next(int bound) => (int)((NextUInt64() >> 33) * (ulong)bound >> 31);

    /// <summary>Standard normal N(0, 1) by the Box–Muller transform.</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();   // (0, 1]
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle of <paramref name="items"/>.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
