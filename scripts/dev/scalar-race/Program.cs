// Adds two small tensors in a loop for a fixed time while a second thread runs gen-0 garbage collections between
// spins, and reports how many additions ran and whether one failed. Mode "operator" writes `a + b` (TorchSharp makes
// an alpha of 1 on the spot and leaves it to the finalizer); mode "held" passes an alpha the program holds. A freed
// alpha shows as c10's "Expected false to be true" from Scalar::toFloat, or as a wrong sum. docs/DESIGN.md, "Scalars".
using TorchSharp;
using static TorchSharp.torch;

string mode = args.Length > 0 ? args[0] : "operator";
if (mode is not ("operator" or "held")) { Console.Error.WriteLine("usage: ScalarRace operator|held [seconds] [spin]"); return 2; }
double seconds = args.Length > 1 ? double.Parse(args[1]) : 20;
int spin = args.Length > 2 ? int.Parse(args[2]) : 20_000;

using var a = randn(6, 3, 5, 5);
using var b = randn(6, 3, 5, 5);
using Scalar held = 1;
float expected;
using (var sum = a.add(b, held).sum()) expected = sum.item<float>();

bool stop = false;
var collector = new Thread(() =>
{
    while (!Volatile.Read(ref stop))
    {
        GC.KeepAlive(new object[16]);
        GC.Collect(0, GCCollectionMode.Forced, blocking: false);
        Thread.SpinWait(spin);
    }
});
collector.Start();

long additions = 0, wrong = 0;
string failure = "none";
var clock = System.Diagnostics.Stopwatch.StartNew();
try
{
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        using var scope = NewDisposeScope();
#pragma warning disable SMILE001 // the form under test
        var c = mode == "operator" ? a + b : a.add(b, held);
#pragma warning restore SMILE001
        if (c.sum().item<float>() != expected) wrong++;
        additions++;
    }
}
catch (Exception e)
{
    failure = e.Message.Split('\n')[0];
}
Volatile.Write(ref stop, true);
collector.Join();
Console.WriteLine($"{mode}: {additions:N0} additions in {clock.Elapsed.TotalSeconds:F1} s, {wrong} wrong sums, failure: {failure}");
return failure == "none" && wrong == 0 ? 0 : 1;
