using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Native;

/// <summary>Where a tensor's data starts (LibTorch's data_ptr, through the function TorchSharp itself binds): a CUDA
/// graph replays its kernels on the addresses it captured, so a tensor that moved (Tensor.set_ onto new memory, as the
/// flat optimizer and the mean teacher's layout do once) must be noticed (Training/StepGraphs.cs).</summary>
public static class TensorAddress
{
    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    public static IntPtr Of(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var address = THSTensor_data(tensor.Handle);
        torch.CheckForErrors();
        return address;
    }
}
