using System.Runtime.InteropServices;

namespace Backprop.Functional;

/// <summary>
/// The few MPI calls distributed training needs, bound at run time: <c>libmpi.so.40</c> (or <c>libmpi.so</c>) is
/// opened with <see cref="NativeLibrary.TryLoad(string, out nint)"/> and each entry point taken with
/// <see cref="NativeLibrary.GetExport"/> into an unmanaged function pointer, so the library loads, runs and tests on a
/// machine without MPI (nothing is resolved until <see cref="TryLoad"/>), and NativeAOT compiles it with no
/// reflection and no marshalling stubs (every argument is blittable).
/// </summary>
/// <remarks>
/// <para><b>This is Open MPI's ABI</b> (Debian's <c>openmpi-bin</c>/<c>libopenmpi-dev</c>, 4.x; soname libmpi.so.40).
/// Open MPI's handles are pointers: <c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_FLOAT</c>
/// <c>&amp;ompi_mpi_float</c>, <c>MPI_DOUBLE</c> <c>&amp;ompi_mpi_double</c>, <c>MPI_SUM</c> <c>&amp;ompi_mpi_op_sum</c>
/// (mpi.h's <c>OMPI_PREDEFINED_GLOBAL</c>), so the handles are the addresses of those exported globals, which
/// <see cref="NativeLibrary.GetExport"/> returns. <c>MPI_IN_PLACE</c> is <c>(void*)1</c>, <c>MPI_THREAD_SERIALIZED</c>
/// 2, <c>MPI_SUCCESS</c> 0. MPICH (libmpich.so.12) differs: its handles are <c>int</c> constants (MPI_COMM_WORLD is
/// 0x44000000), so it would need its own small table here; the entry points' names and argument orders are the
/// standard's and would stay.</para>
/// <para>Errors: MPI's default handler on MPI_COMM_WORLD is <c>MPI_ERRORS_ARE_FATAL</c> (a failing call aborts the
/// job and mpirun names the rank); a non-zero return is still checked and thrown.</para>
/// </remarks>
internal static unsafe class MpiLibrary
{
    /// <summary>The sonames tried, in order: Open MPI 3–5's runtime library, then the development link.</summary>
    internal static readonly string[] Names = ["libmpi.so.40", "libmpi.so"];

    internal const int ThreadSerialized = 2;
    internal static readonly nint InPlace = 1;

    internal static nint Handle;
    internal static nint CommWorld, Float, Double, Sum;

    internal static delegate* unmanaged<int*, nint, int, int*, int> InitThread;
    internal static delegate* unmanaged<int*, int> Initialized;
    internal static delegate* unmanaged<int*, int> Finalized;
    internal static delegate* unmanaged<int> FinalizeMpi;
    internal static delegate* unmanaged<nint, int*, int> CommRank;
    internal static delegate* unmanaged<nint, int*, int> CommSize;
    internal static delegate* unmanaged<nint, nint, int, nint, nint, nint, int> Allreduce;
    internal static delegate* unmanaged<nint, int, nint, nint, int, nint, nint, int> Allgather;
    internal static delegate* unmanaged<nint, int, nint, int, nint, int> Bcast;
    internal static delegate* unmanaged<nint, int> Barrier;
    internal static delegate* unmanaged<nint, int, int> Abort;

    private static readonly object Gate = new();
    private static string? _failure;

    /// <summary>Opens the MPI library and resolves every entry point and handle, once per process.</summary>
    /// <param name="reason">Why MPI cannot be used (null when it can).</param>
    /// <returns>Whether MPI is usable.</returns>
    internal static bool TryLoad(out string? reason)
    {
        lock (Gate)
        {
            if (Handle != 0) { reason = null; return true; }
            if (_failure is not null) { reason = _failure; return false; }
            nint lib = 0;
            foreach (string name in Names)
                if (NativeLibrary.TryLoad(name, out lib)) break;
            if (lib == 0)
            {
                reason = _failure = $"no MPI library: none of {string.Join(", ", Names)} could be loaded (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)";
                return false;
            }
            try
            {
                InitThread = (delegate* unmanaged<int*, nint, int, int*, int>)Export(lib, "MPI_Init_thread");
                Initialized = (delegate* unmanaged<int*, int>)Export(lib, "MPI_Initialized");
                Finalized = (delegate* unmanaged<int*, int>)Export(lib, "MPI_Finalized");
                FinalizeMpi = (delegate* unmanaged<int>)Export(lib, "MPI_Finalize");
                CommRank = (delegate* unmanaged<nint, int*, int>)Export(lib, "MPI_Comm_rank");
                CommSize = (delegate* unmanaged<nint, int*, int>)Export(lib, "MPI_Comm_size");
                Allreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Export(lib, "MPI_Allreduce");
                Allgather = (delegate* unmanaged<nint, int, nint, nint, int, nint, nint, int>)Export(lib, "MPI_Allgather");
                Bcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)Export(lib, "MPI_Bcast");
                Barrier = (delegate* unmanaged<nint, int>)Export(lib, "MPI_Barrier");
                Abort = (delegate* unmanaged<nint, int, int>)Export(lib, "MPI_Abort");
                CommWorld = Export(lib, "ompi_mpi_comm_world");
                Float = Export(lib, "ompi_mpi_float");
                Double = Export(lib, "ompi_mpi_double");
                Sum = Export(lib, "ompi_mpi_op_sum");
            }
            catch (EntryPointNotFoundException e)
            {
                NativeLibrary.Free(lib);
                reason = _failure = $"the MPI library found is not Open MPI (this binding is Open MPI's ABI; MPICH's handles differ): {e.Message}";
                return false;
            }
            Handle = lib;
            reason = null;
            return true;
        }
    }

    /// <summary>Every entry point resolved (for tests: function pointers cannot be compared outside unsafe code).</summary>
    internal static bool AllResolved => InitThread != null && Initialized != null && Finalized != null && FinalizeMpi != null
        && CommRank != null && CommSize != null && Allreduce != null && Allgather != null && Bcast != null && Barrier != null && Abort != null;

    private static nint Export(nint lib, string name) => NativeLibrary.GetExport(lib, name);

    /// <summary>Throws when an MPI call returned an error code (MPI_SUCCESS is 0).</summary>
    internal static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}");
    }
}
