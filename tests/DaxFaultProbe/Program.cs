using VirtioFs.Transport;

// Usage: DaxFaultProbe <file>. Maps the file's first page at window offset 0, reads it (printing "mapped <byte>"),
// then touches window offset 0x10_0000, which is not mapped: the process must die of the fault before "survived".
using var window = new InProcessDaxWindow(4 * 1024 * 1024);
using var file = File.OpenHandle(args[0], FileMode.Open, FileAccess.Read);
var reference = new VirtioFs.Dax.DaxFileReference(2, 0x8000, file, isWritable: false);
if (window.Map(0, Environment.SystemPageSize, reference, 0, writable: false) != VirtioFs.Protocol.Errno.Success)
{
    Console.WriteLine("map failed");
    return 2;
}

Console.WriteLine($"mapped {window.GetSpan(0, 1)[0]}");
Console.Out.Flush();
byte touched = window.GetSpan(0x10_0000, 1)[0];
Console.WriteLine($"survived {touched}");
return 0;
