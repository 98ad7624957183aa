using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Smile.Native;

/// <summary>Where a tensor's data starts (LibTorch's data_ptr, through the function TorchSharp itself binds): a CUDA
/// graph replays its kernels on the addresses it captured, so a tensor that moved (Tensor.set_ onto new memory, as the
/// flat optimizer and the mean teacher's layout do once) must be noticed (Training/StepGraphs.cs).</summary>
public static class TensorAddress
{
    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The address of <paramref name="tensor"/>'s first element (data_ptr cannot fail on a live tensor, so no
    /// error check: it is read for hundreds of tensors after every replayed step).</summary>
    public static IntPtr Of(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var address = THSTensor_data(tensor.Handle);
        GC.KeepAlive(tensor); // the handle is only valid while the tensor is alive (docs/DESIGN.md, "Scalars")
        return address;
    }
}
