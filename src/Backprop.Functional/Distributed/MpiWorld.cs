using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// This process's place in an MPI job (<c>MPI_COMM_WORLD</c>) and the collective calls distributed training uses:
/// broadcast, all-reduce (sum), all-gather, barrier. Made by <see cref="Initialize"/> (<c>MPI_Init_thread</c>, once per
/// process), ended by <see cref="Dispose"/> (<c>MPI_Finalize</c>; MPI cannot start again in the same process).
/// Run under <c>mpirun -np N</c>; a process started alone is a job of one.
/// </summary>
/// <remarks>
/// <para>MPI is loaded at run time (see <c>MpiLibrary</c>: Open MPI's ABI, libmpi.so.40); where it is absent
/// <see cref="IsAvailable"/> says why and nothing else in the library changes. Every call here is collective: each
/// rank must make the same calls in the same order. The element type is float or double.</para>
/// <para>Threads: MPI is initialised with <c>MPI_THREAD_SERIALIZED</c>: any thread may call, one at a time (the
/// training step calls from the thread that runs it).</para>
/// </remarks>
public sealed unsafe class MpiWorld : IDisposable
{
    private static MpiWorld? _current;
    private static bool _finalized;
    private static readonly object Gate = new();
    private bool _disposed;

    private MpiWorld(int rank, int size)
    {
        Rank = rank;
        Size = size;
    }

    /// <summary>This process's rank, 0 … <see cref="Size"/> − 1.</summary>
    public int Rank { get; }

    /// <summary>Processes in the job.</summary>
    public int Size { get; }

    /// <summary>Whether an MPI library (Open MPI) can be loaded here.</summary>
    /// <param name="reason">Why not (null when it can).</param>
    /// <returns>True when <see cref="Initialize"/> can start MPI.</returns>
    public static bool IsAvailable(out string? reason) => MpiLibrary.TryLoad(out reason);

    /// <summary>Whether this process was started by Open MPI's <c>mpirun</c> (<c>OMPI_COMM_WORLD_SIZE</c> is set).</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { Length: > 0 };

    /// <summary>Starts MPI (<c>MPI_Init_thread</c>, serialized) and returns this process's place in the job; the second
    /// call in a process returns the same world until it is disposed.</summary>
    /// <returns>The world.</returns>
    /// <exception cref="InvalidOperationException">No MPI library can be loaded (the message says what to install), or
    /// MPI was already finalized in this process.</exception>
    public static MpiWorld Initialize()
    {
        lock (Gate)
        {
            if (_current is { } current) return current;
            if (_finalized) throw new InvalidOperationException("MPI was finalized in this process and cannot start again (MPI allows one MPI_Init per process)");
            if (!MpiLibrary.TryLoad(out string? reason)) throw new InvalidOperationException(reason);
            int initialized, provided, rank, size;
            MpiLibrary.Check(MpiLibrary.Initialized(&initialized), "MPI_Initialized");
            if (initialized == 0)
            {
                MpiLibrary.Check(MpiLibrary.InitThread(null, 0, MpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread");
                if (provided < MpiLibrary.ThreadSerialized)
                    throw new InvalidOperationException($"MPI_Init_thread provided thread level {provided}, below MPI_THREAD_SERIALIZED ({MpiLibrary.ThreadSerialized})");
            }
            MpiLibrary.Check(MpiLibrary.CommRank(MpiLibrary.CommWorld, &rank), "MPI_Comm_rank");
            MpiLibrary.Check(MpiLibrary.CommSize(MpiLibrary.CommWorld, &size), "MPI_Comm_size");
            return _current = new MpiWorld(rank, size);
        }
    }

    /// <summary>Waits until every rank has called it (<c>MPI_Barrier</c>).</summary>
    public void Barrier()
    {
        ThrowIfDisposed();
        MpiLibrary.Check(MpiLibrary.Barrier(MpiLibrary.CommWorld), "MPI_Barrier");
    }

    /// <summary><paramref name="buffer"/> on every rank ← <paramref name="buffer"/> on rank <paramref name="root"/>
    /// (<c>MPI_Bcast</c>; the same length on every rank).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="buffer">Sent from the root, overwritten elsewhere.</param>
    /// <param name="root">The rank whose values everyone gets.</param>
    public void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        nint type = TypeOf<T>();
        fixed (T* p = buffer)
            MpiLibrary.Check(MpiLibrary.Bcast((nint)p, buffer.Length, type, root, MpiLibrary.CommWorld), "MPI_Bcast");
    }

    /// <summary><paramref name="values"/> ← Σ over the ranks of <paramref name="values"/>, in place (<c>MPI_Allreduce</c>
    /// with <c>MPI_IN_PLACE</c>, <c>MPI_SUM</c>). The order of the additions is the MPI library's, not fixed: for
    /// bits that do not depend on it, let only one rank contribute a non-zero value per element, as training does for
    /// the shard costs.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="values">This rank's values in, the sum out.</param>
    public void AllreduceSum<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        nint type = TypeOf<T>();
        fixed (T* p = values)
            MpiLibrary.Check(MpiLibrary.Allreduce(MpiLibrary.InPlace, (nint)p, values.Length, type, MpiLibrary.Sum, MpiLibrary.CommWorld), "MPI_Allreduce");
    }

    /// <summary>Rank r's <paramref name="mine"/> into <paramref name="all"/>[r·n, (r+1)·n) on every rank
    /// (<c>MPI_Allgather</c>), n = mine.Length, the same on every rank.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="mine">This rank's n values.</param>
    /// <param name="all">[Size × n], every rank's values in rank order.</param>
    /// <exception cref="ArgumentException"><paramref name="all"/> is not Size × n long.</exception>
    public void Allgather<T>(ReadOnlySpan<T> mine, Span<T> all) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        if (all.Length != (long)mine.Length * Size)
            throw new ArgumentException($"all-gather of {mine.Length} values from {Size} ranks needs {(long)mine.Length * Size}, but the destination holds {all.Length}", nameof(all));
        nint type = TypeOf<T>();
        fixed (T* pm = mine, pa = all)
            MpiLibrary.Check(MpiLibrary.Allgather((nint)pm, mine.Length, type, (nint)pa, mine.Length, type, MpiLibrary.CommWorld), "MPI_Allgather");
    }

    /// <summary>Ends every process of the job with <paramref name="code"/> (<c>MPI_Abort</c>): for a rank that cannot go
    /// on, so that the others do not wait for it in a collective call forever.</summary>
    /// <param name="code">The exit code mpirun reports.</param>
    [DoesNotReturn]
    public void Abort(int code)
    {
        ThrowIfDisposed();
        MpiLibrary.Abort(MpiLibrary.CommWorld, code);
        Environment.Exit(code);   // MPI_Abort does not return; this is for a library that does
    }

    /// <summary>Ends MPI in this process (<c>MPI_Finalize</c>); every rank calls it.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            _current = null;
            _finalized = true;
            int finalized;
            if (MpiLibrary.Finalized(&finalized) == 0 && finalized == 0) MpiLibrary.FinalizeMpi();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static nint TypeOf<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? MpiLibrary.Float
        : typeof(T) == typeof(double) ? MpiLibrary.Double
        : throw new NotSupportedException($"MPI transfers here are float or double, not {typeof(T).Name}");
}
