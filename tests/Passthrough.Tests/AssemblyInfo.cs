using System.Runtime.Versioning;

// The tests mount through Linux's /dev/fuse and switch users with setpriv.
[assembly: SupportedOSPlatform("linux")]
