using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>The networks of a run: the student, and the frozen teacher when the regularizer needs one.</summary>
public sealed class RunModels(ImageClassifier student, ImageClassifier? teacher) : IDisposable
{
    public ImageClassifier Student { get; } = student;
    public ImageClassifier? Teacher { get; } = teacher;

    public void Dispose()
    {
        Student.Dispose();
        Teacher?.Dispose();
    }
}

/// <summary>
/// Builds student and teacher from a pre-trained file, as the reference does: the teacher is the source
/// model with its own classifier (S classes), frozen and in eval mode; the student has the same backbone,
/// a new fc for the K target classes and an aux_fc initialised from the source fc.
/// The pre-trained file is a PyTorch/timm state dict (.pth or safetensors) or a Smile checkpoint
/// (whose backbone and classifier then become teacher and aux head).
/// </summary>
public static class ModelSetup
{
    public static RunModels Create(string arch, int numClasses, string? pretrained, bool needsTeacher, Device device)
    {
        if (pretrained is null)
        {
            if (needsTeacher)
                throw new ModelConfigException("this regularizer distils from a pre-trained teacher: give its weights (`pretrained`)");
            return new RunModels(ModelFactory.Create(arch, numClasses).to(device), null);
        }

        // No dispose scope here: the models' parameters must outlive this method; the file's tensors are disposed below.
        var source = ReadSource(pretrained);
        try
        {
            return Build(arch, numClasses, pretrained, needsTeacher, device, source);
        }
        finally
        {
            foreach (var tensor in source.Values) tensor.Dispose();
        }
    }

    private static RunModels Build(string arch, int numClasses, string pretrained, bool needsTeacher, Device device, Dictionary<string, Tensor> source)
    {
        string head = ModelFactory.HeadName(arch);
        if (!source.TryGetValue(head + ".weight", out var fcWeight) || fcWeight.dim() != 2)
            throw new WeightFileException(pretrained, $"no 2-D {head}.weight: not a {ModelFactory.CanonicalName(arch)} classifier's state dict");
        int sourceClasses = (int)fcWeight.shape[0];

        ImageClassifier? teacher = null;
        ImageClassifier? student = null;
        try
        {
            // Strict: a file of another architecture fails here, with every mismatched name, before any work.
            teacher = ModelFactory.Create(arch, sourceClasses);
            StateDictLoader.Load(teacher, source, pretrained);

            student = ModelFactory.Create(arch, numClasses, sourceClasses);
            var studentInit = new Dictionary<string, Tensor>(source)
            {
                ["aux_fc.weight"] = source[head + ".weight"],
                ["aux_fc.bias"] = source[head + ".bias"],
            };
            StateDictLoader.Load(student, studentInit, pretrained, skipPrefixes: new[] { head + "." });
            student.to(device);
            if (!needsTeacher)
            {
                teacher.Dispose();
                return new RunModels(student, null);
            }
            teacher.to(device).eval();
            foreach (var p in teacher.parameters()) p.requires_grad = false;
            return new RunModels(student, teacher);
        }
        catch
        {
            teacher?.Dispose();
            student?.Dispose();
            throw;
        }
    }

    /// <summary>The source model's tensors: a Smile checkpoint's student, or a plain state dict, without any aux head.</summary>
    private static Dictionary<string, Tensor> ReadSource(string path) => ClassifierWeights.Read(path, withAuxHead: false).Tensors;
}
