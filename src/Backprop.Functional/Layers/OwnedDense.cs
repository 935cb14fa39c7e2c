using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>
/// Owner computes: a dense layer's two-thread pass with each thread on one block of the layer's units (output rows of W)
/// for everything that touches them, not just the GEMM. Forward, per thread: z's columns seeded with its b, x·Wᵀ for its
/// rows of W (the dot tiles), σ over its columns of z; backward: σ′ over its columns of δ, ∂C/∂b and ∂C/∂W for its rows
/// (the axpy tiles). With the plain GEMM split the calling thread seeded all of z, applied σ to all of it and took σ′ and
/// ∂C/∂b over all of δ, so every step the worker's half of z and δ crossed between the cores twice; here it is written
/// and read by the core that owns it, and only the next layer's product reads it across (bench/RESULTS.md, "Sixth pass").
/// <para>Bits: the GEMM tiles keep each element's sum whatever the block (groups of four), the bias seed and the bias
/// sum are per element, and σ, σ′ run per element on blocks whose widths are multiples of 16 (so each element takes
/// the same vector path as in one pass over the whole batch). The result is the one-thread result bit for bit
/// (tested). Taken only by the network's passes (kept plans), with two threads, when the plan splits the product over
/// the direct tiles and the activation is element-wise; otherwise the plain path runs.</para>
/// </summary>
internal static class OwnedDense
{
    /// <summary>Off by default: measured slower than the plain GEMM split on W2 (bench/RESULTS.md, "Sixth pass"); the
    /// bench and the tests switch it on. The bits are the same either way.</summary>
    internal static bool Enabled;

    /// <summary>Steps that took the owned forward / backward path (for tests: the path is really taken).</summary>
    internal static long Forwards, Backwards;

    /// <summary>Units of W per block are a multiple of this (σ's vector blocks; the tiles' groups of four divide it).</summary>
    internal const int Align = 16;

    /// <summary>The first unit of the second thread's block, or 0 when the layer cannot be split in aligned blocks: both
    /// widths must be multiples of <see cref="Align"/>, or an activation with a scalar tail (Softplus) would take it on
    /// other elements than the whole-batch pass does (a property caught 256-167-12 Softplus with blocks of 80 and 87).</summary>
    internal static int SplitAt(int outputs)
    {
        if (outputs % Align != 0) return 0;
        int s = outputs / 2 / Align * Align;
        return s >= Align && outputs - s >= Align ? s : 0;
    }

    internal static bool IsElementWise<TAct>() where TAct : struct, IActivation =>
        typeof(IElementwiseActivation).IsAssignableFrom(typeof(TAct));
}

/// <summary>The owned pass of one activation and element type (<see cref="OwnedDense"/>); one pool job per closed type,
/// reused (no allocation per call).</summary>
internal sealed class OwnedDense<TAct, T> : Gemm.Pool.Job
    where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly OwnedDense<TAct, T> Shared = new();
    private static readonly bool ElementWise = OwnedDense.IsElementWise<TAct>();

    private nint _x, _w, _b, _z, _a, _delta, _gw, _gb;
    private int _batch, _inputs, _outputs, _split;
    private bool _backward, _applyDerivative;
    private Exception? _error;

    /// <summary>zˡ and aˡ with each thread on its units; false (nothing done) when the plain path must run.</summary>
    internal static unsafe bool TryForward(Span<GemmPlan> plans, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b,
        Span<T> z, Span<T> a, int batch, int inputs, int outputs, int threads)
    {
        if (!OwnedDense.Enabled || threads < 2 || plans.IsEmpty || !ElementWise || Gemm.Pool.HeldByCurrentThread) return false;
        int split = OwnedDense.SplitAt(outputs);
        if (split == 0) return false;
        ref GemmPlan plan = ref plans[Gemm.ForwardSlot];
        if (!plan.Fits(batch, outputs, inputs, false, true, threads, Unsafe.SizeOf<T>()))
            plan = Gemm.Plan<T>(batch, outputs, inputs, false, true, threads);
        if (plan.Kernel != GemmKernel.DotTiles || plan.Team < 2 || !Gemm.Pool.TryEnter(1)) return false;
        try
        {
            fixed (T* px = x, pw = w, pb = b, pz = z, pa = a)
            {
                var job = Shared;
                job._x = (nint)px; job._w = (nint)pw; job._b = (nint)pb; job._z = (nint)pz; job._a = (nint)pa;
                job._batch = batch; job._inputs = inputs; job._outputs = outputs; job._split = split;
                job._backward = false;
                job.Run();
            }
            Interlocked.Increment(ref OwnedDense.Forwards);
            return true;
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }

    /// <summary>δˡ (σ′ in place unless <paramref name="deltaIsGiven"/>), ∂C/∂Wˡ and ∂C/∂bˡ with each thread on its
    /// units; false (nothing done) when the plain path must run.</summary>
    internal static unsafe bool TryBackward(Span<GemmPlan> plans, ReadOnlySpan<T> aPrevious, ReadOnlySpan<T> z, ReadOnlySpan<T> a,
        Span<T> delta, Span<T> gw, Span<T> gb, int batch, int inputs, int outputs, int threads, bool deltaIsGiven)
    {
        if (!OwnedDense.Enabled || threads < 2 || plans.IsEmpty || (!deltaIsGiven && !ElementWise) || Gemm.Pool.HeldByCurrentThread) return false;
        int split = OwnedDense.SplitAt(outputs);
        if (split == 0) return false;
        ref GemmPlan plan = ref plans[Gemm.WeightGradientSlot];
        if (!plan.Fits(outputs, inputs, batch, true, false, threads, Unsafe.SizeOf<T>()))
            plan = Gemm.Plan<T>(outputs, inputs, batch, true, false, threads);
        if (plan.Kernel != GemmKernel.AxpyTiles || plan.Team < 2 || !Gemm.Pool.TryEnter(1)) return false;
        try
        {
            fixed (T* px = aPrevious, pz = z, pa = a, pd = delta, pgw = gw, pgb = gb)
            {
                var job = Shared;
                job._x = (nint)px; job._z = (nint)pz; job._a = (nint)pa; job._delta = (nint)pd; job._gw = (nint)pgw; job._gb = (nint)pgb;
                job._batch = batch; job._inputs = inputs; job._outputs = outputs; job._split = split;
                job._backward = true;
                job._applyDerivative = !deltaIsGiven;
                job.Run();
            }
            Interlocked.Increment(ref OwnedDense.Backwards);
            return true;
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }

    /// <summary>Units [0, split) on the calling thread, [split, outputs) on one worker; joins before the operands are unpinned.</summary>
    private void Run()
    {
        _error = null;
        Gemm.Pool.Start(this, 1);
        try
        {
            Part(0, _split);
        }
        finally
        {
            Gemm.Pool.Join();
        }
        if (_error is { } error) throw new InvalidOperationException("the owner-computes dense pass failed on the worker", error);
    }

    internal override void Execute(int part)
    {
        try
        {
            Part(_split, _outputs);
        }
#pragma warning disable CA1031 // the worker thread must not die: the error is rethrown on the calling thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            _error = e;
        }
    }

    private unsafe void Part(int j0, int j1)
    {
        int n = _outputs, width = j1 - j0, rows = _batch, k = _inputs;
        if (!_backward)
        {
            var b = new ReadOnlySpan<T>((T*)_b + j0, width);
            var z = new Span<T>((T*)_z, rows * n);
            var a = new Span<T>((T*)_a, rows * n);
            for (int r = 0; r < rows; r++) b.CopyTo(z.Slice(r * n + j0, width));
            ref T x = ref Unsafe.AsRef<T>((void*)_x);
            ref T w = ref Unsafe.AsRef<T>((T*)_w + (nint)j0 * k);
            Gemm.Tiles<T>.DotNT(ref x, ref w, ref Unsafe.Add(ref z[0], j0), rows, width, k, n, accumulate: true);
            for (int r = 0; r < rows; r++)
                TAct.Apply(z.Slice(r * n + j0, width), a.Slice(r * n + j0, width), width);
            return;
        }
        var delta = new Span<T>((T*)_delta, rows * n);
        if (_applyDerivative)
        {
            var zs = new ReadOnlySpan<T>((T*)_z, rows * n);
            var As = new ReadOnlySpan<T>((T*)_a, rows * n);
            for (int r = 0; r < rows; r++)
            {
                var d = delta.Slice(r * n + j0, width);
                TAct.Backward(zs.Slice(r * n + j0, width), As.Slice(r * n + j0, width), d, d, width);
            }
        }
        var gb = new Span<T>((T*)_gb + j0, width);
        delta.Slice(j0, width).CopyTo(gb);
        for (int r = 1; r < rows; r++) TensorPrimitives.Add(gb, delta.Slice(r * n + j0, width), gb);
        // ∂C/∂W rows [j0, j1) = (δᵀ)[j0..j1) · aˡ⁻¹: op(A)ᵢₚ = δ[p, i], rs = 1, ds = n
        ref T d0 = ref Unsafe.Add(ref delta[0], j0);
        Gemm.Tiles<T>.AxpyNN(ref d0, 1, n, ref Unsafe.AsRef<T>((void*)_x), ref Unsafe.AsRef<T>((T*)_gw + (nint)j0 * k), width, k, rows, accumulate: false);
    }
}
