using System.Runtime.Versioning;

// The kernel tests talk to Linux's /dev/fuse and libc.
[assembly: SupportedOSPlatform("linux")]
