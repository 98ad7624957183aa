using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>--device: cpu, cuda, cuda:N, or auto (CUDA when there is one).</summary>
public static class DeviceSelection
{
    public static Device Parse(string text)
    {
        var value = text.Trim().ToLowerInvariant();
        if (value == "cpu") return CPU;
        bool cuda = SafeCudaAvailable();
        if (value == "auto") return cuda ? CUDA : CPU;
        if (value == "cuda" || value.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda)
                throw new ModelConfigException($"`device` {text}: CUDA is not available to this build (LibTorch CPU, or no NVIDIA driver); see `smile info`");
            int index = 0;
            if (value.Length > 5 && !int.TryParse(value[5..], out index))
                throw new ModelConfigException($"`device` {text}: expected cuda:N with N a device number");
            int count = torch.cuda.device_count();
            if (index < 0 || index >= count)
                throw new ModelConfigException($"`device` {text}: there are {count} CUDA device(s)");
            return new Device(DeviceType.CUDA, index);
        }
        throw new ModelConfigException($"`device` {text}: expected cpu, cuda, cuda:N or auto");
    }

    private static bool SafeCudaAvailable()
    {
        try { return torch.cuda.is_available(); }
        catch (Exception) { return false; }
    }
}
