using Backprop.Functional;

namespace Backprop.Cli;

/// <summary>Command-line spellings of activations, losses, initialisations and optimizers (a switch each: no
/// reflection, so the CLI stays NativeAOT-clean).</summary>
internal static class Names
{
    public static readonly string[] Activations = ["relu", "sigmoid", "tanh", "leakyrelu", "softplus", "gelu", "identity", "softmax"];
    public static readonly string[] HiddenActivations = ["relu", "sigmoid", "tanh", "leakyrelu", "softplus", "gelu", "identity"];
    public static readonly string[] Losses = ["softmax-ce", "ce", "quadratic"];
    public static readonly string[] Inits = ["pytorch", "nielsen", "xavier", "he"];
    public static readonly string[] Optimizers = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "adadelta"];

    /// <summary>The curvature optimizers (<see cref="CurvatureMethod"/>), which take the whole step.</summary>
    public static readonly string[] CurvatureOptimizers = ["hessian-free", "kfac", "natural", "adahessian"];

    /// <summary>A curvature method's description: its name and options, e.g. <c>kfac { LearningRate = 0.01, … }</c>.</summary>
    public static string Of(CurvatureMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        string text = method.ToString();
        int brace = text.IndexOf('{', StringComparison.Ordinal);
        return brace < 0 ? method.Name : method.Name + " " + text[brace..];
    }
    public static readonly string[] Schedules = ["constant", "step", "exp", "cosine"];

    /// <summary>The allowed values as help text shows them, e.g. <c>sgd, momentum, adam</c>: built from the same
    /// lists the parser accepts, so help and parser cannot disagree.</summary>
    public static string List(IEnumerable<string> values) => string.Join(", ", values);

    public static ActivationKind Activation(string name) => name switch
    {
        "relu" => ActivationKind.ReLU,
        "sigmoid" => ActivationKind.Sigmoid,
        "tanh" => ActivationKind.Tanh,
        "leakyrelu" => ActivationKind.LeakyReLU,
        "softplus" => ActivationKind.Softplus,
        "gelu" => ActivationKind.GELU,
        "identity" => ActivationKind.Identity,
        "softmax" => ActivationKind.Softmax,
        _ => throw new UsageException($"unknown activation '{name}' (known: {string.Join(", ", Activations)})"),
    };

    public static LossKind Loss(string name) => name switch
    {
        "softmax-ce" => LossKind.SoftmaxCrossEntropy,
        "ce" => LossKind.CrossEntropy,
        "quadratic" => LossKind.Quadratic,
        _ => throw new UsageException($"unknown loss '{name}' (known: {string.Join(", ", Losses)})"),
    };

    public static Initialization Init(string name) => name switch
    {
        "pytorch" => Initialization.PyTorch,
        "nielsen" => Initialization.Nielsen,
        "xavier" => Initialization.Xavier,
        "he" => Initialization.He,
        _ => throw new UsageException($"unknown initialisation '{name}' (known: {string.Join(", ", Inits)})"),
    };

    public static string Of(ActivationKind kind) => kind switch
    {
        ActivationKind.ReLU => "relu",
        ActivationKind.Sigmoid => "sigmoid",
        ActivationKind.Tanh => "tanh",
        ActivationKind.LeakyReLU => "leakyrelu",
        ActivationKind.Softplus => "softplus",
        ActivationKind.GELU => "gelu",
        ActivationKind.Identity => "identity",
        ActivationKind.Softmax => "softmax",
        _ => kind.ToString(),
    };

    public static string Of(LossKind kind) => kind switch
    {
        LossKind.SoftmaxCrossEntropy => "softmax-ce",
        LossKind.CrossEntropy => "ce",
        LossKind.Quadratic => "quadratic",
        _ => kind.ToString(),
    };

    public static string Of(Initialization init) => init switch
    {
        Initialization.PyTorch => "pytorch",
        Initialization.Nielsen => "nielsen",
        Initialization.Xavier => "xavier",
        Initialization.He => "he",
        _ => init.ToString(),
    };

    /// <summary>A short description, e.g. <c>adam(lr=0.001, β₁=0.9, β₂=0.999, ε=1e-08)</c>.</summary>
    public static string Of(Optimizer optimizer)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        string wd = optimizer.WeightDecay == 0 ? "" : string.Create(c, $", weight decay {optimizer.WeightDecay}");
        return optimizer switch
        {
            Sgd o => string.Create(c, $"sgd(lr={o.LearningRate}{wd})"),
            Momentum o => string.Create(c, $"momentum(lr={o.LearningRate}, μ={o.Mu}{wd})"),
            Nesterov o => string.Create(c, $"nesterov(lr={o.LearningRate}, μ={o.Mu}{wd})"),
            Adagrad o => string.Create(c, $"adagrad(lr={o.LearningRate}, ε={o.Epsilon}{wd})"),
            RmsProp o => string.Create(c, $"rmsprop(lr={o.LearningRate}, α={o.Alpha}, ε={o.Epsilon}, μ={o.Mu}{wd})"),
            Adam o => string.Create(c, $"adam(lr={o.LearningRate}, β₁={o.Beta1}, β₂={o.Beta2}, ε={o.Epsilon}{wd})"),
            AdamW o => string.Create(c, $"adamw(lr={o.LearningRate}, β₁={o.Beta1}, β₂={o.Beta2}, ε={o.Epsilon}, decoupled weight decay {o.WeightDecay})"),
            AdaDelta o => string.Create(c, $"adadelta(lr={o.LearningRate}, ρ={o.Rho}, ε={o.Epsilon}{wd})"),
            _ => optimizer.ToString(),
        };
    }
}
