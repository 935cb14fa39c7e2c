using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional;

/// <summary>
/// One-sample inference on a copy of a network's θ, laid out for a single input vector: the first layer's weights are
/// stored transposed, W⁰ᵀ [inputs × outputs], so z⁰ = b⁰ + Σᵢ xᵢ·W⁰ᵀᵢ reads one contiguous row per input and skips
/// every row whose xᵢ is zero (when the first layer is <see cref="Dense"/>; a network starting with another kind runs
/// <see cref="Network{T}.Forward"/>'s pass, bit for bit). Images with blank borders, one-hot and bag-of-words inputs are mostly zeros: an MNIST
/// digit has about 150 non-zero pixels of 784, so the first layer reads a fifth of its weights. An input with more
/// than half its values non-zero runs the first layer as <see cref="Network{T}.Forward"/> does instead (every row is
/// read either way, and the forward pass reads them in order). The later layers run
/// <see cref="Equations.Forward{T}"/>'s kernels. Allocation happens when it is made; <see cref="Predict"/> allocates
/// nothing.
/// </summary>
/// <remarks>
/// The copy is a snapshot: training the network afterwards does not change the predictions until
/// <see cref="Refresh"/>. On sparse inputs aᴸ agrees with <see cref="Network{T}.Forward"/> to rounding (z⁰ sums the same
/// products in another order: one FMA chain per unit in increasing i, starting from b); on dense ones it is
/// Forward's, bit for bit.
/// <para>Threads: one thread at a time. A predictor keeps its scratch (the workspace behind the returned span, z⁰, the
/// list of non-zero inputs) in itself, so two overlapping calls would overwrite each other's sums. Overlapping calls of
/// <see cref="Predict"/>, <see cref="Classify"/> or <see cref="Refresh"/> are detected (one interlocked flag per call)
/// and throw <see cref="InvalidOperationException"/>; make one predictor per thread with
/// <see cref="Network{T}.CreatePredictor"/>. The span a call returns is valid until the next call, from any thread.</para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Predictor<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Units per register block of z⁰: eight vectors, enough independent FMA chains to hide the latency.</summary>
    private static int Block => 8 * Vector<T>.Count;

    private readonly Network<T> _network;
    private readonly T[] _theta;
    private readonly T[] _firstTransposed;   // [inputs × stride], columns ≥ outputs zero
    private readonly T[] _firstBias;         // [stride]
    private readonly T[] _z;                 // [stride]
    private readonly int[] _live;            // indices of the non-zero inputs of the current sample
    private readonly int _stride;
    private readonly Dense? _first;          // null: the first layer has no fast path, Predict runs Forward
    private Workspace<T> _ws;               // re-made when a sequence of another length arrives
    private int _busy;                       // 1 while a call runs: concurrent use is refused, not computed wrong

    /// <summary>Copies <paramref name="network"/>'s θ into the inference layout.</summary>
    /// <param name="network">The network to predict with; read now and by <see cref="Refresh"/>.</param>
    public Predictor(Network<T> network)
    {
        ArgumentNullException.ThrowIfNull(network);
        _network = network;
        _theta = new T[network.Layout.Count];
        _ws = network.CreateWorkspace(1);
        _ws.KeepWeights();   // θ is this predictor's own copy: a layer may keep forms of its weights between calls
        _first = network.Spec.Layers[0] is Dense { PerStep: false } dense ? dense : null;
        if (_first is { } first)
        {
            _stride = (first.Outputs + Block - 1) / Block * Block;
            long transposed = (long)first.Inputs * _stride;   // the first layer's rows padded to whole vector blocks
            if (transposed > Array.MaxLength)
            {
                _ws.Dispose();
                throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"the predictor stores the first layer [{first.Outputs} × {first.Inputs}] transposed with rows padded to {_stride}: {transposed} elements, more than one array holds ({Array.MaxLength}); use Network.Forward"), nameof(network));
            }
            _firstTransposed = new T[transposed];
            _firstBias = new T[_stride];
            _z = new T[_stride];
            _live = new int[first.Inputs];
        }
        else
        {
            _firstTransposed = _firstBias = _z = [];
            _live = [];
        }
        Copy();
    }

    /// <summary>The network's layers and cost.</summary>
    public NetworkSpec Spec => _network.Spec;

    /// <summary>Copies the network's current θ again (after more training, or after loading new weights into it).</summary>
    /// <exception cref="InvalidOperationException">Another thread is using this predictor.</exception>
    public void Refresh()
    {
        Enter();
        try
        {
            Copy();
        }
        finally
        {
            Exit();
        }
    }

    private void Copy()
    {
        ReadOnlySpan<T> theta = _network.Parameters;
        theta.CopyTo(_theta);
        _ws.ForgetWeights();   // the layers' kept weights were made from the old copy
        if (_first is null) return;
        var layout = _network.Layout;
        var w = layout.Weight(0);
        ReadOnlySpan<T> weights = w.Of(theta);
        for (int j = 0; j < w.Rows; j++)           // W⁰ is [outputs × inputs]
            for (int i = 0; i < w.Columns; i++)
                _firstTransposed[i * _stride + j] = weights[j * w.Columns + i];
        layout.Bias(0).Of(theta).CopyTo(_firstBias);
    }

    /// <summary>aᴸ for one sample.</summary>
    /// <param name="x">One input, [inputs].</param>
    /// <returns>aᴸ, [outputs]; a view that the next call overwrites.</returns>
    /// <exception cref="ArgumentException">x is not [inputs] long, or holds NaN or infinity.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using this predictor.</exception>
    public ReadOnlySpan<T> Predict(ReadOnlySpan<T> x)
    {
        Enter();
        try
        {
            return Run(x);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>The predicted class: the index of the largest output (the first on ties); with one output (a binary
    /// classifier's probability) 1 when it is ≥ ½, else 0, as <see cref="Trainer.Evaluate{T}"/> scores it.</summary>
    /// <param name="x">One input, [inputs].</param>
    /// <exception cref="ArgumentException">x is not [inputs] long, or holds NaN or infinity.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using this predictor.</exception>
    public int Classify(ReadOnlySpan<T> x)
    {
        Enter();
        try
        {
            return Trainer.ClassOf(Run(x));
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Claims the predictor for the calling thread, or throws if a call is running on another.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enter()
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            ThrowConcurrentUse();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Exit() => Volatile.Write(ref _busy, 0);

    private static void ThrowConcurrentUse() =>
        throw new InvalidOperationException(
            "a Predictor is used by one thread at a time, but Predict, Classify or Refresh was called while another call "
            + "on the same Predictor was running; create one Predictor per thread (network.CreatePredictor())");

    private ReadOnlySpan<T> Run(ReadOnlySpan<T> x)
    {
        var spec = _network.Spec;
        if (spec.Layers[0].Input.IsSequence)
        {
            // one sequence [time × inputs]: any whole number of steps; a new length re-makes the workspace once
            if (x.Length == 0 || x.Length % spec.Inputs != 0)
                throw new ArgumentException($"a prediction takes one sequence of whole steps [time × {spec.Inputs}], but x has {x.Length} values", nameof(x));
            Shapes.RequireFinite(x, spec.Inputs, "input");
            int time = x.Length / spec.Inputs;
            if (time != _ws.Time)
            {
                _ws.Dispose();
                _ws = _network.CreateWorkspace(1, 1, time);
                _ws.KeepWeights();
            }
            Equations.ForwardFrom<T>(spec, _theta, x, _ws, 0, 1);
            return _ws.A(spec.Layers.Count - 1, 1);
        }
        if (x.Length != spec.Inputs)
            throw new ArgumentException($"a prediction takes one sample of [{spec.Inputs}], but x has {x.Length} values", nameof(x));
        Shapes.RequireFinite(x, spec.Inputs, "input");
        if (_first is null)
        {
            Equations.ForwardFrom<T>(spec, _theta, x, _ws, 0, 1);   // no fast path for this kind: the forward pass
            return _ws.A(spec.Layers.Count - 1, 1);
        }
        int live = NonZeroInputs(x);
        if (live * 2 <= x.Length)
        {
            FirstLayer(x, live);
            _z.AsSpan(0, spec.Layers[0].Outputs).CopyTo(_ws.Z(0, 1));
            Equations.Activate(spec, _ws, 0, 1);
            if (spec.Layers.Count > 1)
                Equations.ForwardFrom<T>(spec, _theta, x, _ws, 1, 1);
        }
        else
        {
            // mostly non-zero: every row would be read anyway, and the dot products of the forward pass read W⁰ in
            // order (a dense 784-vector: 4.7 µs that way against 6.1 through the rows)
            Equations.ForwardFrom<T>(spec, _theta, x, _ws, 0, 1);
        }
        return _ws.A(spec.Layers.Count - 1, 1);
    }

    /// <summary>Lists the indices of the non-zero inputs in increasing order; returns how many there are, or stops
    /// early with a count above half the inputs once that is certain (the list is not used then).</summary>
    private int NonZeroInputs(ReadOnlySpan<T> x)
    {
        int live = 0, i = 0, half = x.Length / 2;
        ref T x0 = ref MemoryMarshal.GetReference(x);
        ref int rows = ref MemoryMarshal.GetArrayDataReference(_live);
        if (Vector256.IsHardwareAccelerated)
        {
            // one compare per vector, then one store per set bit: no branch that depends on a single pixel
            for (; i + Vector256<T>.Count <= x.Length; i += Vector256<T>.Count)
            {
                uint nonZero = ~Vector256.ExtractMostSignificantBits(Vector256.Equals(Vector256.LoadUnsafe(ref x0, (nuint)i), Vector256<T>.Zero))
                    & ((1u << Vector256<T>.Count) - 1);
                for (; nonZero != 0; nonZero &= nonZero - 1)
                    Unsafe.Add(ref rows, live++) = i + BitOperations.TrailingZeroCount(nonZero);
                if (live > half)
                    return live;
            }
        }
        for (; i < x.Length; i++)
            if (Unsafe.Add(ref x0, i) != T.Zero) Unsafe.Add(ref rows, live++) = i;
        return live;
    }

    /// <summary>z⁰ ← b⁰ + Σ over the <paramref name="live"/> listed non-zero xᵢ of xᵢ·W⁰ᵀᵢ, one block of units at a time
    /// held in registers.</summary>
    private void FirstLayer(ReadOnlySpan<T> x, int live)
    {
        int v = Vector<T>.Count;
        ref T x0 = ref MemoryMarshal.GetReference(x);
        ref int rows = ref MemoryMarshal.GetArrayDataReference(_live);
        ref T wt = ref MemoryMarshal.GetArrayDataReference(_firstTransposed);
        ref T bias = ref MemoryMarshal.GetArrayDataReference(_firstBias);
        ref T z = ref MemoryMarshal.GetArrayDataReference(_z);
        nint stride = _stride;
        for (int j = 0; j < _stride; j += Block)
        {
            nuint o = (nuint)j;
            Vector<T> c0 = Vector.LoadUnsafe(ref bias, o), c1 = Vector.LoadUnsafe(ref bias, o + (nuint)v);
            Vector<T> c2 = Vector.LoadUnsafe(ref bias, o + (nuint)(2 * v)), c3 = Vector.LoadUnsafe(ref bias, o + (nuint)(3 * v));
            Vector<T> c4 = Vector.LoadUnsafe(ref bias, o + (nuint)(4 * v)), c5 = Vector.LoadUnsafe(ref bias, o + (nuint)(5 * v));
            Vector<T> c6 = Vector.LoadUnsafe(ref bias, o + (nuint)(6 * v)), c7 = Vector.LoadUnsafe(ref bias, o + (nuint)(7 * v));
            for (int t = 0; t < live; t++)
            {
                int input = Unsafe.Add(ref rows, t);
                var xi = new Vector<T>(Unsafe.Add(ref x0, input));
                ref T w = ref Unsafe.Add(ref wt, input * stride + j);
                c0 = Fma(Vector.LoadUnsafe(ref w), xi, c0);
                c1 = Fma(Vector.LoadUnsafe(ref w, (nuint)v), xi, c1);
                c2 = Fma(Vector.LoadUnsafe(ref w, (nuint)(2 * v)), xi, c2);
                c3 = Fma(Vector.LoadUnsafe(ref w, (nuint)(3 * v)), xi, c3);
                c4 = Fma(Vector.LoadUnsafe(ref w, (nuint)(4 * v)), xi, c4);
                c5 = Fma(Vector.LoadUnsafe(ref w, (nuint)(5 * v)), xi, c5);
                c6 = Fma(Vector.LoadUnsafe(ref w, (nuint)(6 * v)), xi, c6);
                c7 = Fma(Vector.LoadUnsafe(ref w, (nuint)(7 * v)), xi, c7);
            }
            c0.StoreUnsafe(ref z, o); c1.StoreUnsafe(ref z, o + (nuint)v);
            c2.StoreUnsafe(ref z, o + (nuint)(2 * v)); c3.StoreUnsafe(ref z, o + (nuint)(3 * v));
            c4.StoreUnsafe(ref z, o + (nuint)(4 * v)); c5.StoreUnsafe(ref z, o + (nuint)(5 * v));
            c6.StoreUnsafe(ref z, o + (nuint)(6 * v)); c7.StoreUnsafe(ref z, o + (nuint)(7 * v));
        }
    }

    /// <summary>a·b + c rounded once (the hardware FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Fma(Vector<T> a, Vector<T> b, Vector<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"Predictor supports float and double, not {typeof(T).Name}");
    }

    /// <summary>Releases the workspace.</summary>
    public void Dispose() => _ws.Dispose();
}
