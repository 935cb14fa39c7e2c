using System.Numerics;

namespace Backprop.Functional;

/// <summary>Where the loss is taken: one position per row, or for a per-step output (a sequence edge into the loss)
/// rows × time positions, sample-major, of which a row's steps before <see cref="Workspace{T}.LossFrom"/> and at or
/// beyond its length are left out (<see cref="Masked"/>).</summary>
internal readonly ref struct LossPositions
{
    private readonly ReadOnlySpan<int> _lengths;
    private readonly int _time, _from;

    private LossPositions(int rows, int time, ReadOnlySpan<int> lengths, int from)
    {
        Rows = rows;
        _time = time;
        _lengths = lengths;
        _from = from;
        Count = rows * time;
        Masked = time > 1 && (!lengths.IsEmpty || from > 0);
    }

    internal static LossPositions Of<T>(NetworkSpec spec, Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T> =>
        spec.Layers[^1].Output.IsSequence ? new(rows, ws.Time, ws.Lengths(rows), ws.LossFrom) : new(rows, 1, default, 0);

    /// <summary>Rows of the batch.</summary>
    internal int Rows { get; }

    /// <summary>Positions the output holds: rows, or rows × time.</summary>
    internal int Count { get; }

    /// <summary>Whether some positions are left out.</summary>
    internal bool Masked { get; }

    /// <summary>Row r's counted positions: the first and how many (steps from … length − 1).</summary>
    internal (int Start, int Length) Run(int r)
    {
        int end = _lengths.IsEmpty ? _time : _lengths[r];
        return (r * _time + _from, Math.Max(0, end - _from));
    }

    /// <summary>Positions counted in all.</summary>
    internal int Counted
    {
        get
        {
            if (!Masked) return Count;
            int n = 0;
            for (int r = 0; r < Rows; r++) n += Run(r).Length;
            return n;
        }
    }
}
