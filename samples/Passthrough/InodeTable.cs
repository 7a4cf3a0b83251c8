using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Samples.Passthrough;

/// <summary>
/// The nodes the client holds, keyed both by node id and by <c>(st_dev, st_ino)</c>: a host inode reached under
/// several names (hard links, a rename seen from both ends) is one node. One lock guards changes of both maps and the
/// lookup counts; it is held only for dictionary updates, never across a system call. Finding a node by id, which every
/// request does, takes no lock: the id map is a concurrent dictionary, changed only under the lock.
/// </summary>
internal sealed class InodeTable
{
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<ulong, Inode> _byId = new();
    private readonly Dictionary<(ulong Device, ulong Number), Inode> _byKey = [];
    private ulong _nextId = Protocol.FuseConstants.RootId + 1;

    public InodeTable(Inode root)
    {
        Root = root;
        _byId[root.NodeId] = root;
        _byKey.Add((root.Device, root.Number), root);
    }

    public Inode Root { get; }

    public int Count => _byId.Count;

    public Inode? Get(ulong nodeId) => _byId.GetValueOrDefault(nodeId);

    /// <summary>Counts one lookup of the host inode <c>(<paramref name="device"/>, <paramref name="number"/>)</c> if the
    /// client already holds a node for it (then no new <c>O_PATH</c> descriptor is needed); null if it does not.</summary>
    public Inode? TryAcquire(ulong device, ulong number)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue((device, number), out Inode? inode))
            {
                return null;
            }

            if (inode != Root)
            {
                inode.LookupCount++;
            }

            return inode;
        }
    }

    /// <summary>Counts one lookup of the host inode <paramref name="pathFd"/> refers to: the known node (and
    /// <paramref name="pathFd"/> is closed) or a new node that takes ownership of it.</summary>
    public Inode Acquire(ulong device, ulong number, SafeFileHandle pathFd)
    {
        Inode inode;
        bool duplicate;
        lock (_lock)
        {
            duplicate = _byKey.TryGetValue((device, number), out inode!);
            if (!duplicate)
            {
                inode = new Inode(_nextId++, device, number, pathFd);
                _byId[inode.NodeId] = inode;
                _byKey.Add((device, number), inode);
            }

            if (inode != Root)
            {
                inode.LookupCount++;
            }
        }

        if (duplicate)
        {
            pathFd.Dispose();
        }

        return inode;
    }

    /// <summary>Gives back <paramref name="count"/> lookups; at zero the node goes and its descriptor is closed.</summary>
    public void Forget(ulong nodeId, ulong count)
    {
        Inode? gone = null;
        lock (_lock)
        {
            if (nodeId == Root.NodeId || !_byId.TryGetValue(nodeId, out Inode? inode))
            {
                return;
            }

            inode.LookupCount = count >= inode.LookupCount ? 0 : inode.LookupCount - count;
            if (inode.LookupCount == 0)
            {
                _byId.TryRemove(nodeId, out _);
                _byKey.Remove((inode.Device, inode.Number));
                gone = inode;
            }
        }

        gone?.PathFd.Dispose();
    }

    /// <summary>Drops every node but the root (the client unmounted).</summary>
    public void Clear()
    {
        List<Inode> gone;
        lock (_lock)
        {
            gone = [.. _byId.Values.Where(i => i != Root)];
            _byId.Clear();
            _byKey.Clear();
            _byId[Root.NodeId] = Root;
            _byKey.Add((Root.Device, Root.Number), Root);
        }

        foreach (Inode inode in gone)
        {
            inode.PathFd.Dispose();
        }
    }
}
