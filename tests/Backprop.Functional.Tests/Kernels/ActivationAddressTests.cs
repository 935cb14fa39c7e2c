using System.Runtime.CompilerServices;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>An activation's bits do not depend on where its buffers sit (issue 15: TensorPrimitives' tanh, sigmoid and
/// exp group elements into vectors by the destination's address, and a lane out of exp's range moves its neighbours'
/// results, so GELU's σ′, written into a stack buffer, differed with the depth of the call stack). Inputs from 1e-20 to 1e3
/// in magnitude (some beyond exp's range), at 8 offsets of the heap arrays and 8 depths of the stack.</summary>
public sealed class ActivationAddressTests
{
    private static double[] Inputs(int n, int seed)
    {
        var rng = new Random(seed);
        var z = new double[n];
        for (int i = 0; i < n; i++) z[i] = (rng.Next(2) == 0 ? -1 : 1) * Math.Pow(10, rng.NextDouble() * 23 - 20);
        return z;
    }

    private static (double[] A, double[] Delta) Run(ActivationKind kind, double[] z, double[] up, int offset, int depth)
    {
        int n = z.Length;
        var zb = new double[n + 8];
        var ab = new double[n + 8];
        var db = new double[n + 8];
        z.CopyTo(zb, offset);
        up.CopyTo(db, offset);
        AtDepth(depth, kind, zb, ab, db, offset, n);
        return (ab.AsSpan(offset, n).ToArray(), db.AsSpan(offset, n).ToArray());
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AtDepth(int depth, ActivationKind kind, double[] zb, double[] ab, double[] db, int offset, int n)
    {
        if (depth > 0)
        {
            Span<byte> pad = stackalloc byte[(8 * depth) + 8];   // moves the callee's stack buffers by 8-byte steps
            pad[0] = 1;
            AtDepth(depth - 1, kind, zb, ab, db, offset, n);
            GC.KeepAlive(pad[0]);
            return;
        }
        var action = new Pass { Z = zb.AsSpan(offset, n), A = ab.AsSpan(offset, n), Delta = db.AsSpan(offset, n), Width = 16 };
        ActivationDispatch.Run(kind, ref action);
    }

    private ref struct Pass : IActivationAction
    {
        public Span<double> Z, A, Delta;
        public int Width;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation
        {
            TAct.Apply<double>(Z, A, Width);
            TAct.Backward<double>(Z, A, Delta, Delta, Width);
        }
    }

    [Theory]
    [InlineData(ActivationKind.GELU)]
    [InlineData(ActivationKind.Tanh)]
    [InlineData(ActivationKind.Sigmoid)]
    [InlineData(ActivationKind.Softplus)]
    [InlineData(ActivationKind.Softmax)]
    public void Same_bits_at_every_address(ActivationKind kind)
    {
        var z = Inputs(2000, 7);
        var up = Inputs(2000, 8);
        if (kind == ActivationKind.Softmax)
        {
            for (int i = 0; i < z.Length; i++) z[i] = Math.Clamp(z[i], -700, 700);
        }
        var (a0, d0) = Run(kind, z, up, 0, 0);
        var bad = new List<string>();
        for (int offset = 0; offset < 8; offset++)
        {
            for (int depth = 0; depth < 8; depth++)
            {
                var (a, d) = Run(kind, z, up, offset, depth);
                int da = 0, dd = 0;
                for (int i = 0; i < a.Length; i++)
                {
                    if (BitConverter.DoubleToInt64Bits(a[i]) != BitConverter.DoubleToInt64Bits(a0[i])) da++;
                    if (BitConverter.DoubleToInt64Bits(d[i]) != BitConverter.DoubleToInt64Bits(d0[i])) dd++;
                }
                if (da + dd > 0) bad.Add($"offset {offset}, depth {depth}: σ {da}, δ {dd} elements differ");
            }
        }
        Assert.True(bad.Count == 0, $"{kind}: " + string.Join("; ", bad.Take(8)));
    }
}
