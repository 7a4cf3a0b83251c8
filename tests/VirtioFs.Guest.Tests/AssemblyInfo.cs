using System.Runtime.Versioning;

// The tests boot Linux guests under QEMU against vhost-user backends on this Linux host.
[assembly: SupportedOSPlatform("linux")]
