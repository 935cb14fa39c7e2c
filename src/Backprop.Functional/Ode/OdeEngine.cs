using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>The buffers of one ODE solve and its gradient over <see cref="Rows"/> rows, carved from a per-row span
/// ([rows × <see cref="OdePlan.PerRow"/>]) and a per-layer span ([<see cref="OdePlan.PerLayer"/>]) in the order
/// <see cref="OdePlan"/> sized them. Blocks are [rows × width], row-major, as f's Dense kernels read them.</summary>
internal ref struct OdeBuffers<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public OdeBuffers(OdePlan plan, Span<T> perRow, Span<T> perLayer, int rows)
    {
        int n = rows, d = plan.D, w = plan.W, s = plan.Tableau.Stages;
        if (perRow.Length < (long)n * plan.PerRow || perLayer.Length < plan.PerLayer)
            throw new ArgumentException($"an ODE solve over {n} rows needs {(long)n * plan.PerRow:N0} + {plan.PerLayer:N0} scratch values; it was given {perRow.Length:N0} + {perLayer.Length:N0}");
        int at = 0;
        static Span<T> Take(Span<T> from, scoped ref int offset, int length)
        {
            var block = from.Slice(offset, length);
            offset += length;
            return block;
        }
        States = Take(perRow, ref at, checked(plan.States * n * d));
        Records = Take(perRow, ref at, checked((plan.Gradient == OdeGradient.Discretise ? s : 1) * n * plan.Record));
        Y = Take(perRow, ref at, n * w);
        YTmp = Take(perRow, ref at, n * w);
        YNew = Take(perRow, ref at, n * w);
        K = Take(perRow, ref at, checked(s * n * w));
        Err = Take(perRow, ref at, n * w);
        YBar = Take(perRow, ref at, checked(s * n * d));
        ABar = Take(perRow, ref at, n * d);
        GBar = Take(perRow, ref at, n * d);
        Ping = Take(perRow, ref at, n * plan.Widest);
        Pong = Take(perRow, ref at, n * plan.Widest);
        Cot = Take(perRow, ref at, n * d);
        int layerAt = 0;
        Statistics = Take(perLayer, ref layerAt, OdePlan.StatisticsLength);
        StepLog = Take(perLayer, ref layerAt, plan.StepLog);
        IntervalSteps = Take(perLayer, ref layerAt, plan.Intervals);
        KTheta = Take(perLayer, ref layerAt, checked(s * plan.P));
        ThetaTmp = Take(perLayer, ref layerAt, plan.P);
        Rows = rows;
    }

    public int Rows { get; }
    public Span<T> States, Records, Y, YTmp, YNew, K, Err, YBar, ABar, GBar, Ping, Pong, Cot;
    public Span<T> Statistics, StepLog, IntervalSteps, KTheta, ThetaTmp;
}

/// <summary>One explicit Runge–Kutta integrator for the forward state h and for the adjoint's augmented state
/// [h, a, ∂C/∂θ], fixed or adaptive steps; and backpropagation through its own steps. f's evaluations are its Dense
/// layers' Forward kernels, its vector–Jacobian products their Backward kernels, so the adjoint's aᵀ∂f/∂h and
/// aᵀ∂f/∂θ are BP1–BP4 run on f.</summary>
internal static class OdeEngine<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private struct Counters
    {
        public int ForwardEvaluations, ForwardSteps, ForwardRejected, BackwardEvaluations, BackwardProducts, BackwardSteps, BackwardRejected;
    }

    /// <summary>Integrates h from <c>times[0]</c> through every later time, writing h(tₖ) into
    /// <paramref name="outputs"/> ([times − 1] blocks of [rows × D]) and keeping what the gradient needs.</summary>
    public static OdeStatistics Solve(OdePlan plan, ReadOnlySpan<T> theta, scoped ReadOnlySpan<double> times, ReadOnlySpan<T> h0,
        Span<T> outputs, scoped ref OdeBuffers<T> b, int threads)
    {
        int n = b.Rows, nd = n * plan.D;
        var c = default(Counters);
        h0[..nd].CopyTo(b.Y);
        h0[..nd].CopyTo(b.States);
        int stored = 1;
        bool fsal = false;
        double dt = 0;
        int stepsBefore = 0;
        for (int k = 0; k < times.Length - 1; k++)
        {
            double ta = times[k], tb = times[k + 1];
            int segments = plan.Gradient == OdeGradient.Adjoint ? plan.Checkpoints + 1 : 1;
            for (int seg = 0; seg < segments; seg++)
            {
                if (plan.Adaptive)
                {
                    double sa = ta + (tb - ta) * seg / segments, sb = seg == segments - 1 ? tb : ta + (tb - ta) * (seg + 1) / segments;
                    if (dt == 0) dt = InitialStep(plan, theta, sa, sb, adjoint: false, ref b, ref c, threads, Span<T>.Empty);
                    fsal = true; // InitialStep left f(sa, y) in K₀; the state is continuous across segments
                    IntegrateAdaptive(plan, theta, sa, sb, ref dt, adjoint: false, ref fsal, ref b, ref c, threads, Span<T>.Empty,
                        plan.Gradient == OdeGradient.Discretise, ref stored);
                }
                else
                {
                    int steps = plan.FixedSteps, from = seg * steps / segments, to = (seg + 1) * steps / segments;
                    IntegrateFixed(plan, theta, ta, (tb - ta) / steps, from, to, adjoint: false, ref b, ref c, threads, Span<T>.Empty,
                        plan.Gradient == OdeGradient.Discretise, ref stored);
                }
                if (plan.Gradient == OdeGradient.Adjoint) b.Y[..nd].CopyTo(b.States.Slice(stored++ * nd, nd));
            }
            b.IntervalSteps[k] = T.CreateTruncating(c.ForwardSteps - stepsBefore);
            stepsBefore = c.ForwardSteps;
            b.Y[..nd].CopyTo(outputs.Slice(k * nd, nd));
        }
        var stats = new OdeStatistics(c.ForwardEvaluations, c.ForwardSteps, c.ForwardRejected, 0, 0, 0, 0);
        Write(b.Statistics, stats);
        return stats;
    }

    /// <summary>∂C/∂h(t₀) and ∂C/∂θ from ∂C/∂h(tₖ) for k ≥ 1 (<paramref name="dOutputs"/>, as Solve's outputs), after
    /// Solve on the same θ and h₀ with these buffers. <paramref name="dTheta"/> is written (empty: not wanted).</summary>
    public static OdeStatistics Gradient(OdePlan plan, ReadOnlySpan<T> theta, scoped ReadOnlySpan<double> times, ReadOnlySpan<T> dOutputs,
        Span<T> dH0, Span<T> dTheta, scoped ref OdeBuffers<T> b, int threads)
    {
        var c = default(Counters);
        var forward = Read(b.Statistics);
        c.ForwardEvaluations = forward.ForwardEvaluations;
        c.ForwardSteps = forward.ForwardSteps;
        c.ForwardRejected = forward.ForwardRejected;
        if (!dTheta.IsEmpty) dTheta[..plan.P].Clear();
        if (plan.Gradient == OdeGradient.Discretise) BackpropagateSteps(plan, theta, times, dOutputs, dTheta, ref b, ref c, threads);
        else Adjoint(plan, theta, times, dOutputs, dTheta, ref b, ref c, threads);
        int nd = b.Rows * plan.D;
        var a = plan.Gradient == OdeGradient.Discretise ? b.ABar[..nd] : b.Y.Slice(nd, nd);
        if (!dH0.IsEmpty) a.CopyTo(dH0);
        var stats = new OdeStatistics(c.ForwardEvaluations, c.ForwardSteps, c.ForwardRejected,
            c.BackwardEvaluations, c.BackwardProducts, c.BackwardSteps, c.BackwardRejected);
        Write(b.Statistics, stats);
        return stats;
    }

    public static OdeStatistics Read(ReadOnlySpan<T> s) => new(
        int.CreateTruncating(s[0]), int.CreateTruncating(s[1]), int.CreateTruncating(s[2]), int.CreateTruncating(s[3]),
        int.CreateTruncating(s[4]), int.CreateTruncating(s[5]), int.CreateTruncating(s[6]));

    private static void Write(Span<T> s, OdeStatistics x)
    {
        s[0] = T.CreateTruncating(x.ForwardEvaluations);
        s[1] = T.CreateTruncating(x.ForwardSteps);
        s[2] = T.CreateTruncating(x.ForwardRejected);
        s[3] = T.CreateTruncating(x.BackwardEvaluations);
        s[4] = T.CreateTruncating(x.BackwardProducts);
        s[5] = T.CreateTruncating(x.BackwardSteps);
        s[6] = T.CreateTruncating(x.BackwardRejected);
    }

    // ---- f and its vector–Jacobian product ---------------------------------------------------------------------------

    /// <summary>k = f(h, t; θ) through f's Dense Forward kernels into record <paramref name="record"/> (its input, then
    /// each layer's z and a); returns the last layer's a, [rows × D].</summary>
    private static Span<T> Evaluate(OdePlan plan, ReadOnlySpan<T> theta, int record, double t, ReadOnlySpan<T> h, scoped ref OdeBuffers<T> b, int threads)
    {
        int n = b.Rows, d = plan.D, in0 = plan.In0;
        var rec = b.Records.Slice(record * n * plan.Record, n * plan.Record);
        var x = rec[..(n * in0)];
        if (plan.F.TimeInput)
        {
            T time = T.CreateTruncating(t);
            for (int r = 0; r < n; r++)
            {
                h.Slice(r * d, d).CopyTo(x.Slice(r * in0, d));
                x[r * in0 + d] = time;
            }
        }
        else h[..(n * d)].CopyTo(x);
        int at = n * in0, th = 0;
        ReadOnlySpan<T> input = x;
        Span<T> a = default;
        foreach (var layer in plan.F.Layers)
        {
            int width = n * layer.Outputs, size = checked((int)layer.ParameterCount);
            var z = rec.Slice(at, width);
            a = rec.Slice(at + width, width);
            DenseKernel.Forward(layer, new ForwardPass<T> { Theta = theta.Slice(th, size), X = input, Y = a, Scratch = z, Rows = n, Time = 1, Threads = threads });
            input = a;
            at += 2 * width;
            th += size;
        }
        return a;
    }

    /// <summary>From the cotangent of f's output (<paramref name="cotangent"/>, overwritten) at record
    /// <paramref name="record"/>: (∂f/∂h)ᵀ·cot into <paramref name="dh"/> and (∂f/∂θ)ᵀ·cot summed over rows into
    /// <paramref name="dTheta"/> (written; empty: skipped), through f's Dense Backward kernels.</summary>
    private static void Product(OdePlan plan, ReadOnlySpan<T> theta, int record, Span<T> cotangent, Span<T> dh, Span<T> dTheta,
        scoped ref OdeBuffers<T> b, int threads)
    {
        int n = b.Rows, d = plan.D, in0 = plan.In0;
        var layers = plan.F.Layers;
        var rec = b.Records.Slice(record * n * plan.Record, n * plan.Record);
        // Offsets of each layer's z and parameters.
        int at = n * in0, th = 0;
        foreach (var layer in layers)
        {
            at += 2 * n * layer.Outputs;
            th += checked((int)layer.ParameterCount);
        }
        Span<T> dy = cotangent;
        for (int l = layers.Length - 1; l >= 0; l--)
        {
            var layer = layers[l];
            int width = n * layer.Outputs, size = checked((int)layer.ParameterCount);
            at -= 2 * width;
            th -= size;
            ReadOnlySpan<T> x = l == 0 ? rec[..(n * in0)] : rec.Slice(at - n * layers[l - 1].Outputs, n * layers[l - 1].Outputs);
            Span<T> dx = l == 0 && !plan.F.TimeInput ? dh[..(n * d)] : (dy.Overlaps(b.Ping) ? b.Pong : b.Ping)[..(n * layer.Inputs)];
            DenseKernel.Backward(layer, new BackwardPass<T>
            {
                Theta = theta.Slice(th, size), X = x, Y = rec.Slice(at + width, width), Scratch = rec.Slice(at, width),
                DY = dy[..width], DX = dx, DTheta = dTheta.IsEmpty ? Span<T>.Empty : dTheta.Slice(th, size),
                Rows = n, Time = 1, Threads = threads,
            });
            if (l == 0 && plan.F.TimeInput)
                for (int r = 0; r < n; r++) dx.Slice(r * in0, d).CopyTo(dh.Slice(r * d, d));
            dy = dx;
        }
    }

    /// <summary>The forward system's slope (f) or the adjoint's: [f(h), −aᵀ∂f/∂h] and −aᵀ∂f/∂θ.</summary>
    private static void Slope(OdePlan plan, ReadOnlySpan<T> theta, bool adjoint, double t, ReadOnlySpan<T> y, Span<T> k, Span<T> kTheta,
        scoped ref OdeBuffers<T> b, scoped ref Counters c, int threads)
    {
        int nd = b.Rows * plan.D;
        var f = Evaluate(plan, theta, 0, t, y[..nd], ref b, threads);
        f.CopyTo(k[..nd]);
        if (!adjoint)
        {
            c.ForwardEvaluations++;
            return;
        }
        c.BackwardEvaluations++;
        c.BackwardProducts++;
        y.Slice(nd, nd).CopyTo(b.Cot);
        var da = k.Slice(nd, nd);
        Product(plan, theta, 0, b.Cot, da, kTheta, ref b, threads);
        TensorPrimitives.Negate(da, da);
        if (!kTheta.IsEmpty) TensorPrimitives.Negate(kTheta, kTheta);
    }

    // ---- the integrator ----------------------------------------------------------------------------------------------

    /// <summary>The integrated state's length: h, [rows × D], forward; [h, a], [rows × 2D], for the adjoint (an adjoint
    /// plan's buffers hold the latter, and the forward pass must not carry the backward's a along).</summary>
    private static int Length(OdePlan plan, bool adjoint, int rows) => rows * plan.D * (adjoint ? 2 : 1);

    /// <summary>One explicit Runge–Kutta step from (t, Y) by dt into YNew; the stage slopes stay in K (and KTheta).
    /// Returns the scaled error norm (adaptive) or 0. With FSAL and <paramref name="firstReady"/>, K₀ already holds
    /// the slope at (t, Y); the last stage is evaluated at <paramref name="tNext"/>.</summary>
    private static double Step(OdePlan plan, ReadOnlySpan<T> theta, bool adjoint, double t, double dt, double tNext, bool firstReady,
        scoped ref OdeBuffers<T> b, scoped ref Counters c, int threads, bool withTheta)
    {
        var tab = plan.Tableau;
        int s = tab.Stages, len = Length(plan, adjoint, b.Rows), p = plan.P;
        for (int i = 0; i < s; i++)
        {
            if (i == 0 && firstReady) continue;
            bool last = tab.FirstSameAsLast && i == s - 1;
            Span<T> input = i == 0 ? b.Y[..len] : last ? b.YNew[..len] : b.YTmp[..len];
            if (i > 0) Combine(b.Y[..len], tab.A[i], dt, b.K, len, input);
            Slope(plan, theta, adjoint, last ? tNext : t + tab.C[i] * dt, input, b.K.Slice(i * len, len),
                withTheta ? b.KTheta.Slice(i * p, p) : Span<T>.Empty, ref b, ref c, threads);
        }
        if (!tab.FirstSameAsLast) Combine(b.Y[..len], tab.B, dt, b.K, len, b.YNew[..len]);
        if (!plan.Adaptive || tab.ErrorWeights is not { } e) return 0;
        b.Err[..len].Clear();
        for (int i = 0; i < s; i++)
            if (e[i] != 0) TensorPrimitives.MultiplyAdd(b.K.Slice(i * len, len), T.CreateTruncating(dt * e[i]), b.Err[..len], b.Err[..len]);
        var tol = (DormandPrince)plan.Solver;
        return Norm(b.Err[..len], b.Y[..len], b.YNew[..len], tol.RelativeTolerance, tol.AbsoluteTolerance);
    }

    /// <summary>into = y + dt·Σⱼ wⱼkⱼ over the weights given (zeros skipped).</summary>
    private static void Combine(ReadOnlySpan<T> y, double[] weights, double dt, ReadOnlySpan<T> k, int len, Span<T> into)
    {
        y.CopyTo(into);
        for (int j = 0; j < weights.Length; j++)
            if (weights[j] != 0) TensorPrimitives.MultiplyAdd(k.Slice(j * len, len), T.CreateTruncating(dt * weights[j]), into, into);
    }

    /// <summary>√(mean((eᵢ / (atol + rtol·max(|yᵢ|, |y′ᵢ|)))²)), in double.</summary>
    private static double Norm(ReadOnlySpan<T> e, ReadOnlySpan<T> y, ReadOnlySpan<T> yNew, double rtol, double atol)
    {
        double sum = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double scale = atol + rtol * Math.Max(Math.Abs(double.CreateTruncating(y[i])), Math.Abs(double.CreateTruncating(yNew[i])));
            double q = double.CreateTruncating(e[i]) / scale;
            sum += q * q;
        }
        return e.Length == 0 ? 0 : Math.Sqrt(sum / e.Length);
    }

    /// <summary>After an accepted step: Y ← YNew, the θ part accumulates dt·Σ bᵢkθᵢ, and an FSAL slope moves to K₀.</summary>
    private static void Accept(OdePlan plan, bool adjoint, double dt, scoped ref OdeBuffers<T> b, Span<T> dTheta)
    {
        var tab = plan.Tableau;
        int s = tab.Stages, len = Length(plan, adjoint, b.Rows), p = plan.P;
        b.YNew[..len].CopyTo(b.Y);
        if (!dTheta.IsEmpty)
            for (int i = 0; i < s; i++)
                if (tab.B[i] != 0) TensorPrimitives.MultiplyAdd(b.KTheta.Slice(i * p, p), T.CreateTruncating(dt * tab.B[i]), dTheta[..p], dTheta[..p]);
        if (tab.FirstSameAsLast)
        {
            b.K.Slice((s - 1) * len, len).CopyTo(b.K);
            if (!dTheta.IsEmpty) b.KTheta.Slice((s - 1) * p, p).CopyTo(b.KTheta);
        }
    }

    /// <summary>Steps n = from … to (exclusive, either direction) of size Δ from t = start + n·Δ; the forward
    /// discretise pass keeps the state after each.</summary>
    private static void IntegrateFixed(OdePlan plan, ReadOnlySpan<T> theta, double start, double delta, int from, int to, bool adjoint,
        scoped ref OdeBuffers<T> b, scoped ref Counters c, int threads, Span<T> dTheta, bool store, ref int stored)
    {
        int dir = to >= from ? 1 : -1, nd = b.Rows * plan.D;
        for (int step = from; step != to; step += dir)
        {
            double t = start + step * delta;
            Step(plan, theta, adjoint, t, dir * delta, start + (step + dir) * delta, firstReady: false, ref b, ref c, threads, !dTheta.IsEmpty);
            Accept(plan, adjoint, dir * delta, ref b, dTheta);
            if (adjoint) c.BackwardSteps++;
            else c.ForwardSteps++;
            if (store) b.Y[..nd].CopyTo(b.States.Slice(stored++ * nd, nd));
        }
    }

    /// <summary>Adaptive steps from ta to tb (either direction), starting with the proposal dt (updated). Each step is
    /// rounded to T (so a recomputation in T repeats it exactly) and the last one lands on tb.</summary>
    private static void IntegrateAdaptive(OdePlan plan, ReadOnlySpan<T> theta, double ta, double tb, ref double dt, bool adjoint, ref bool fsal,
        scoped ref OdeBuffers<T> b, scoped ref Counters c, int threads, Span<T> dTheta, bool store, ref int stored)
    {
        int nd = b.Rows * plan.D;
        var dp = (DormandPrince)plan.Solver;
        double t = ta, direction = Math.Sign(tb - ta);
        if (direction == 0) return;
        dt = direction * Math.Abs(dt);
        while (t != tb)
        {
            int accepted = adjoint ? c.BackwardSteps : c.ForwardSteps;
            if (accepted >= dp.MaxSteps)
                throw new OdeStepLimitException($"Dormand–Prince needed more than {dp.MaxSteps} accepted steps {(adjoint ? "backward" : "forward")} " +
                    $"(reached t = {t:G6} of [{Math.Min(ta, tb):G6}, {Math.Max(ta, tb):G6}]); raise MaxSteps or loosen rtol/atol");
            bool last = Math.Abs(tb - t) <= Math.Abs(dt) * (1 + 1e-12);
            double step = double.CreateTruncating(T.CreateTruncating(last ? tb - t : dt));
            if (step == 0 || !double.IsFinite(step))
                throw new OdeStepLimitException($"Dormand–Prince's step fell to {step:G3} at t = {t:G6}: the dynamics are not finite or too stiff for this tolerance");
            double tNext = last ? tb : t + step;
            double error = Step(plan, theta, adjoint, t, step, tNext, fsal, ref b, ref c, threads, !dTheta.IsEmpty);
            if (!double.IsFinite(error))
                throw new OdeStepLimitException($"Dormand–Prince's error estimate is not finite at t = {t:G6}: a state or f's output is NaN or infinite");
            double factor = error == 0 ? 10 : Math.Clamp(0.9 * Math.Pow(error, -0.2), 0.2, 10);
            if (error <= 1)
            {
                Accept(plan, adjoint, step, ref b, dTheta);
                fsal = true;
                if (adjoint) c.BackwardSteps++;
                else c.ForwardSteps++;
                if (store)
                {
                    b.StepLog[c.ForwardSteps - 1] = T.CreateTruncating(step);
                    b.Y[..nd].CopyTo(b.States.Slice(stored++ * nd, nd));
                }
                t = tNext;
                dt = step * factor;
            }
            else
            {
                fsal = true; // K₀ still holds the slope at (t, Y)
                if (adjoint) c.BackwardRejected++;
                else c.ForwardRejected++;
                dt = step * Math.Min(1, factor);
            }
        }
    }

    /// <summary>Hairer's first step: from ‖y₀‖, ‖f₀‖ and ‖f₁ − f₀‖ after a trial Euler step (one more evaluation); leaves
    /// f(ta, Y) in K₀ for FSAL. Direction from ta to tb.</summary>
    private static double InitialStep(OdePlan plan, ReadOnlySpan<T> theta, double ta, double tb, bool adjoint,
        scoped ref OdeBuffers<T> b, scoped ref Counters c, int threads, Span<T> dTheta)
    {
        var dp = (DormandPrince)plan.Solver;
        int len = Length(plan, adjoint, b.Rows), p = plan.P;
        bool withTheta = !dTheta.IsEmpty;
        Slope(plan, theta, adjoint, ta, b.Y[..len], b.K[..len], withTheta ? b.KTheta[..p] : Span<T>.Empty, ref b, ref c, threads);
        double d0 = Norm(b.Y[..len], b.Y[..len], b.Y[..len], dp.RelativeTolerance, dp.AbsoluteTolerance);
        double d1 = Norm(b.K[..len], b.Y[..len], b.Y[..len], dp.RelativeTolerance, dp.AbsoluteTolerance);
        double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
        double direction = Math.Sign(tb - ta);
        h0 = Math.Min(h0, Math.Abs(tb - ta));
        TensorPrimitives.MultiplyAdd(b.K[..len], T.CreateTruncating(direction * h0), b.Y[..len], b.YTmp[..len]);
        var k1 = b.K.Slice(len, len);
        Slope(plan, theta, adjoint, ta + direction * h0, b.YTmp[..len], k1, withTheta ? b.KTheta.Slice(p, p) : Span<T>.Empty, ref b, ref c, threads);
        TensorPrimitives.Subtract(k1, b.K[..len], b.Err[..len]);
        double d2 = Norm(b.Err[..len], b.Y[..len], b.Y[..len], dp.RelativeTolerance, dp.AbsoluteTolerance) / h0;
        double big = Math.Max(d1, d2);
        double h1 = big <= 1e-15 ? Math.Max(1e-6, h0 * 1e-3) : Math.Pow(0.01 / big, 1.0 / 5);
        return direction * Math.Min(100 * h0, h1);
    }

    // ---- gradients ---------------------------------------------------------------------------------------------------

    /// <summary>Backpropagation through the forward steps, last to first: each step's stages are recomputed from the
    /// stored state (same arithmetic, so the same values), then reversed: with ā = ∂C/∂hₙ₊₁, stage i's slope gets
    /// ḡᵢ = Δt·bᵢ·ā + Σⱼ₍ⱼ﹥ᵢ₎ Δt·aⱼᵢ·Ȳⱼ and its input Ȳᵢ = (∂f/∂Y)ᵀḡᵢ; then ∂C/∂hₙ = ā + Σᵢ Ȳᵢ and ∂C/∂θ += (∂f/∂θ)ᵀḡᵢ.</summary>
    private static void BackpropagateSteps(OdePlan plan, ReadOnlySpan<T> theta, scoped ReadOnlySpan<double> times, ReadOnlySpan<T> dOutputs, Span<T> dTheta,
        scoped ref OdeBuffers<T> b, scoped ref Counters c, int threads)
    {
        var tab = plan.Tableau;
        int n = b.Rows, nd = n * plan.D, s = tab.SolutionStages, m = times.Length - 1, p = plan.P;
        dOutputs.Slice((m - 1) * nd, nd).CopyTo(b.ABar);
        int stepEnd = c.ForwardSteps; // states[stepEnd] is h at the last time
        int logEnd = c.ForwardSteps;
        for (int k = m - 1; k >= 0; k--)
        {
            int steps = int.CreateTruncating(b.IntervalSteps[k]);
            double ta = times[k], tb = times[k + 1];
            for (int j = steps - 1; j >= 0; j--)
            {
                int global = stepEnd - steps + j;
                double t, dt;
                if (plan.Adaptive)
                {
                    // Repeat the forward pass's clock: t accumulates the logged steps from ta; the interval's last lands on tb.
                    int first = logEnd - steps;
                    t = ta;
                    for (int i = 0; i < j; i++) t = t + double.CreateTruncating(b.StepLog[first + i]);
                    dt = double.CreateTruncating(b.StepLog[first + j]);
                }
                else
                {
                    dt = (tb - ta) / plan.FixedSteps;
                    t = ta + j * dt;
                }
                var h = b.States.Slice(global * nd, nd);
                // Recompute the stages: record i holds Yᵢ and f's activations at it; its output is kᵢ.
                for (int i = 0; i < s; i++)
                {
                    var input = i == 0 ? h : b.YTmp[..nd];
                    if (i > 0)
                    {
                        h.CopyTo(b.YTmp);
                        for (int l = 0; l < i; l++)
                            if (tab.A[i][l] != 0) TensorPrimitives.MultiplyAdd(StageOutput(plan, l, ref b), T.CreateTruncating(dt * tab.A[i][l]), b.YTmp[..nd], b.YTmp[..nd]);
                    }
                    Evaluate(plan, theta, i, t + tab.C[i] * dt, input, ref b, threads);
                    c.BackwardEvaluations++;
                }
                // Reverse them.
                for (int i = s - 1; i >= 0; i--)
                {
                    var g = b.GBar[..nd];
                    TensorPrimitives.Multiply(b.ABar[..nd], T.CreateTruncating(dt * tab.B[i]), g);
                    for (int l = i + 1; l < s; l++)
                        if (tab.A[l][i] != 0) TensorPrimitives.MultiplyAdd(b.YBar.Slice(l * nd, nd), T.CreateTruncating(dt * tab.A[l][i]), g, g);
                    Product(plan, theta, i, g, b.YBar.Slice(i * nd, nd), dTheta.IsEmpty ? Span<T>.Empty : b.ThetaTmp[..p], ref b, threads);
                    c.BackwardProducts++;
                    if (!dTheta.IsEmpty) TensorPrimitives.Add(dTheta[..p], b.ThetaTmp[..p], dTheta[..p]);
                }
                for (int i = 0; i < s; i++) TensorPrimitives.Add(b.ABar[..nd], b.YBar.Slice(i * nd, nd), b.ABar[..nd]);
                c.BackwardSteps++;
            }
            stepEnd -= steps;
            logEnd -= steps;
            if (k > 0) TensorPrimitives.Add(b.ABar[..nd], dOutputs.Slice((k - 1) * nd, nd), b.ABar[..nd]);
        }
    }

    private static Span<T> StageOutput(OdePlan plan, int record, scoped ref OdeBuffers<T> b)
    {
        int n = b.Rows, nd = n * plan.D;
        var rec = b.Records.Slice(record * n * plan.Record, n * plan.Record);
        return rec.Slice(rec.Length - nd, nd);
    }

    /// <summary>The adjoint method: [h, a] integrated backward from each output time to the one before, with
    /// da/dt = −aᵀ∂f/∂h and d(∂C/∂θ)/dt = −aᵀ∂f/∂θ (accumulated in dTheta); a jumps by ∂C/∂h(tₖ) at each output time,
    /// and h restarts from the stored forward state at each checkpoint and output time.</summary>
    private static void Adjoint(OdePlan plan, ReadOnlySpan<T> theta, scoped ReadOnlySpan<double> times, ReadOnlySpan<T> dOutputs, Span<T> dTheta,
        scoped ref OdeBuffers<T> b, scoped ref Counters c, int threads)
    {
        int nd = b.Rows * plan.D, m = times.Length - 1, segments = plan.Checkpoints + 1;
        dOutputs.Slice((m - 1) * nd, nd).CopyTo(b.Y.Slice(nd, nd));
        int boundary = m * segments;
        int unused = 0;
        for (int k = m - 1; k >= 0; k--)
        {
            double ta = times[k], tb = times[k + 1];
            for (int seg = segments - 1; seg >= 0; seg--)
            {
                b.States.Slice(boundary-- * nd, nd).CopyTo(b.Y[..nd]);
                if (plan.Adaptive)
                {
                    double sa = ta + (tb - ta) * seg / segments, sb = seg == segments - 1 ? tb : ta + (tb - ta) * (seg + 1) / segments;
                    double dt = InitialStep(plan, theta, sb, sa, adjoint: true, ref b, ref c, threads, dTheta);
                    bool fsal = true;
                    IntegrateAdaptive(plan, theta, sb, sa, ref dt, adjoint: true, ref fsal, ref b, ref c, threads, dTheta, store: false, ref unused);
                }
                else
                {
                    int steps = plan.FixedSteps, from = seg * steps / segments, to = (seg + 1) * steps / segments;
                    IntegrateFixed(plan, theta, ta, (tb - ta) / steps, to, from, adjoint: true, ref b, ref c, threads, dTheta, store: false, ref unused);
                }
            }
            if (k > 0) TensorPrimitives.Add(b.Y.Slice(nd, nd), dOutputs.Slice((k - 1) * nd, nd), b.Y.Slice(nd, nd));
        }
    }
}

/// <summary>An adaptive solve could not finish: more steps than allowed, a step that fell to nothing, or a non-finite
/// error estimate. The message says where.</summary>
public sealed class OdeStepLimitException : Exception
{
    /// <summary>An exception with <paramref name="message"/>.</summary>
    public OdeStepLimitException(string message) : base(message) { }

    /// <summary>An exception with no message.</summary>
    public OdeStepLimitException() { }

    /// <summary>An exception with <paramref name="message"/> and the cause.</summary>
    public OdeStepLimitException(string message, Exception inner) : base(message, inner) { }
}
