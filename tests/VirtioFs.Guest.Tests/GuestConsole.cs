using System.Globalization;

namespace VirtioFs.Guest.Tests;

/// <summary>
/// What a guest printed on its serial console, parsed (the line format is described in scripts/guest/init):
/// <c>VFS-PHASE name ms</c>, <c>VFS-RESULT key value</c>, <c>VFS-ERROR message</c>, <c>VFS-DONE ok|fail reason</c>.
/// </summary>
public sealed class GuestConsole
{
    private readonly List<KeyValuePair<string, string>> _results = [];
    private readonly Dictionary<string, long> _phases = [];
    private readonly List<string> _errors = [];

    public GuestConsole(IReadOnlyList<string> lines, string diagnostics)
    {
        Lines = lines;
        Diagnostics = diagnostics;
        foreach (string raw in lines)
        {
            // A kernel message may have been printed in front of ours on the same line.
            int at = raw.IndexOf("VFS-", StringComparison.Ordinal);
            if (at < 0)
            {
                continue;
            }

            string line = raw[at..].TrimEnd();
            string[] words = line.Split(' ', 3);
            switch (words[0])
            {
                case "VFS-PHASE" when words.Length == 3 && long.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out long ms):
                    _phases[words[1]] = ms;
                    break;
                case "VFS-RESULT" when words.Length >= 2:
                    _results.Add(new(words[1], words.Length == 3 ? words[2] : ""));
                    break;
                case "VFS-ERROR":
                    _errors.Add(line["VFS-ERROR ".Length..]);
                    break;
                case "VFS-DONE" when words.Length >= 2:
                    Done = line["VFS-DONE ".Length..];
                    break;
            }
        }
    }

    public IReadOnlyList<string> Lines { get; }

    /// <summary>The tails of the console, QEMU's errors and the backend's output, for failure messages.</summary>
    public string Diagnostics { get; }

    /// <summary>"ok", "fail reason", or null when the guest never got that far.</summary>
    public string? Done { get; }

    public IReadOnlyDictionary<string, long> Phases => _phases;

    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Every value reported under <paramref name="key"/>, in order.</summary>
    public IEnumerable<string> Results(string key) => _results.Where(r => r.Key == key).Select(r => r.Value);

    /// <summary>The one value reported under <paramref name="key"/>; fails the test when there is none.</summary>
    public string Result(string key)
    {
        string? value = Results(key).LastOrDefault();
        return value ?? throw Failure($"the guest reported no VFS-RESULT {key}");
    }

    public long Phase(string name)
        => _phases.TryGetValue(name, out long ms) ? ms : throw Failure($"the guest reported no VFS-PHASE {name}");

    /// <summary>Fails unless the guest ended with <c>VFS-DONE ok</c>.</summary>
    public void AssertOk()
    {
        if (Done != "ok")
        {
            throw Failure(Done is null ? "the guest never printed VFS-DONE" : $"the guest reported VFS-DONE {Done}");
        }
    }

    /// <summary>Asserts one result's value, naming the console in the failure.</summary>
    public void AssertResult(string key, string expected)
    {
        string actual = Result(key);
        if (actual != expected)
        {
            throw Failure($"VFS-RESULT {key} is '{actual}', expected '{expected}'");
        }
    }

    public Xunit.Sdk.XunitException Failure(string message)
        => new($"{message}{(_errors.Count > 0 ? $"\nguest errors: {string.Join("; ", _errors)}" : "")}\n{Diagnostics}");

    /// <summary>One line for the test output: "boot 3452 ms, mount 262 ms, ...".</summary>
    public string PhaseSummary => string.Join(", ", _phases.Select(p => $"{p.Key} {p.Value} ms"));
}
