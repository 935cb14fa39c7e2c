namespace Backprop.Functional.Tests.Optimizers;

/// <summary>
/// Plain scalar double implementation of every optimizer, written straight from the documented update rules,
/// one element at a time, with no shared code with the library.
/// </summary>
internal sealed class ReferenceOptimizer
{
    private readonly Optimizer o;
    private readonly double[] m0;
    private readonly double[] m1;
    private readonly double[] m2;
    private long t; // updates already applied

    public ReferenceOptimizer(Optimizer optimizer, int n)
    {
        o = optimizer;
        m0 = new double[n];
        m1 = new double[n];
        m2 = new double[n];
        if (optimizer is Adagrad a)
        {
            Array.Fill(m0, a.InitialAccumulatorValue);
        }
    }

    public void Step(double[] theta, double[] g, double lr)
    {
        for (int i = 0; i < theta.Length; i++)
        {
            theta[i] = StepElement(i, theta[i], g[i], lr);
        }

        t++;
    }

    private double StepElement(int i, double th, double grad, double lr)
    {
        double wd = o.WeightDecay;
        switch (o)
        {
            case Sgd:
                return th - (lr * (grad + (wd * th)));

            case Momentum h when h.Form == MomentumForm.Torch:
            {
                double ge = grad + (wd * th);
                m0[i] = t == 0 ? ge : (h.Mu * m0[i]) + ((1 - h.Dampening) * ge);
                return th - (lr * m0[i]);
            }

            case Momentum h:
            {
                double ge = grad + (wd * th);
                m0[i] = t == 0 ? lr * ge : (h.Mu * m0[i]) + ((1 - h.Dampening) * lr * ge);
                return th - m0[i];
            }

            case Nesterov h when h.Form == NesterovForm.Torch:
            {
                double ge = grad + (wd * th);
                m0[i] = (h.Mu * m0[i]) + ge;
                return th - (lr * (ge + (h.Mu * m0[i])));
            }

            case Nesterov h:
            {
                double lookAhead = th - (h.Mu * m0[i]);
                double ge = grad + (wd * lookAhead);
                m0[i] = (h.Mu * m0[i]) + (lr * ge);
                return th - m0[i];
            }

            case Adagrad h:
            {
                double ge = grad + (wd * th);
                double clr = lr / (1 + ((t + 1 - 1) * h.LrDecay));
                m0[i] += ge * ge;
                return th - (clr * ge / (Math.Sqrt(m0[i]) + h.Epsilon));
            }

            case RmsProp h:
            {
                double ge = grad + (wd * th);
                m0[i] = (h.Alpha * m0[i]) + ((1 - h.Alpha) * ge * ge);
                double vTilde = m0[i];
                if (h.Centered)
                {
                    m1[i] = (h.Alpha * m1[i]) + ((1 - h.Alpha) * ge);
                    vTilde = m0[i] - (m1[i] * m1[i]);
                }

                if (h.Mu > 0)
                {
                    m2[i] = (h.Mu * m2[i]) + (ge / (Math.Sqrt(vTilde) + h.Epsilon));
                    return th - (lr * m2[i]);
                }

                return th - (lr * ge / (Math.Sqrt(vTilde) + h.Epsilon));
            }

            case Adam h:
                return AdamElement(i, th, grad + (wd * th), lr, h.Beta1, h.Beta2, h.Epsilon, h.Amsgrad);

            case AdamW h:
            {
                double decayed = th - (lr * wd * th);
                return AdamElement(i, decayed, grad, lr, h.Beta1, h.Beta2, h.Epsilon, h.Amsgrad);
            }

            case AdaDelta h:
            {
                double ge = grad + (wd * th);
                m0[i] = (h.Rho * m0[i]) + ((1 - h.Rho) * ge * ge);
                double delta = Math.Sqrt(m1[i] + h.Epsilon) / Math.Sqrt(m0[i] + h.Epsilon) * ge;
                m1[i] = (h.Rho * m1[i]) + ((1 - h.Rho) * delta * delta);
                return th - (lr * delta);
            }

            default:
                throw new NotSupportedException(o.ToString());
        }
    }

    private double AdamElement(int i, double th, double ge, double lr, double beta1, double beta2, double eps, bool amsgrad)
    {
        long step = t + 1;
        m0[i] = (beta1 * m0[i]) + ((1 - beta1) * ge);
        m1[i] = (beta2 * m1[i]) + ((1 - beta2) * ge * ge);
        m2[i] = Math.Max(m2[i], m1[i]);
        double mHat = m0[i] / (1 - Math.Pow(beta1, step));
        double vHat = (amsgrad ? m2[i] : m1[i]) / (1 - Math.Pow(beta2, step));
        return th - (lr * mHat / (Math.Sqrt(vHat) + eps));
    }
}
