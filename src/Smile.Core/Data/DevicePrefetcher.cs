using System.Runtime.ExceptionServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Data;

/// <summary>
/// Host batches copied to the device one batch ahead: when batch k is handed out, batch k+1 has already been pinned
/// (page-locked, so the GPU's copy engine reads it directly) and its copy queued without blocking, so the host goes
/// straight on to launching step k while the copy runs. On the CPU nothing is copied and <see cref="For"/> hands the
/// loader's batches through unchanged. The copy is queued on the current stream, ahead of step k's kernels: the host
/// never waits for it, the GPU does it first (a separate copy stream would overlap it with step k too).
/// <para>Ownership as with <see cref="BatchLoader.Batches"/>: each batch handed out belongs to the receiver; its
/// tensors belong to no dispose scope (the copies are made inside the receiver's MoveNext, and must outlive any scope
/// open there). The host batch is disposed once its copy is queued (LibTorch's pinned-memory allocator keeps the
/// pinned block until the copy is done); the batch made ahead is disposed when the enumeration stops early. An
/// exception from the source surfaces at the same place as without the prefetcher: after the batches before it.</para>
/// </summary>
public static class DevicePrefetcher
{
    /// <summary>On CUDA: <see cref="Ahead"/> from pinned memory. Elsewhere: <paramref name="source"/> itself.</summary>
    public static IEnumerable<Batch> For(IEnumerable<Batch> source, Device device) =>
        device.type == DeviceType.CUDA ? Ahead(source, device, pin: true) : source;

    /// <summary>The batches of <paramref name="source"/>, in order, on <paramref name="device"/>, one copied ahead;
    /// <paramref name="pin"/>: through pinned host memory, with non-blocking copies (CUDA only).</summary>
    public static IEnumerable<Batch> Ahead(IEnumerable<Batch> source, Device device, bool pin)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var host = source.GetEnumerator();
        Batch? next = null;
        try
        {
            next = CopyNext(host, device, pin);
            while (next is not null)
            {
                var current = next;
                next = null;
                ExceptionDispatchInfo? failed = null;
                try
                {
                    next = CopyNext(host, device, pin);
                }
                catch (Exception e)
                {
                    failed = ExceptionDispatchInfo.Capture(e); // thrown after the current batch, as the source would
                }
                yield return current;
                failed?.Throw();
            }
        }
        finally
        {
            next?.Dispose();
        }
    }

    private static Batch? CopyNext(IEnumerator<Batch> host, Device device, bool pin)
    {
        if (!host.MoveNext()) return null;
        using var batch = host.Current;
        var images = ToDevice(batch.Images, device, pin);
        try
        {
            var labels = ToDevice(batch.Labels, device, pin);
            return new Batch(images, labels, batch.Indices.ToArray(), batch.Epoch, batch.Skipped);
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    private static Tensor ToDevice(Tensor tensor, Device device, bool pin)
    {
        using var pinned = pin ? tensor.pin_memory() : null;
        return (pinned ?? tensor).to(device, non_blocking: pin).DetachFromDisposeScope();
    }
}
