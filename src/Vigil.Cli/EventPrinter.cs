using Vigil.Logs;
using Vigil.Supervision;

namespace Vigil.Cli;

/// <summary>Prints one line per event (<c>time name#pid event: reason</c>) and, when asked, children's output prefixed with their name.</summary>
public sealed class EventPrinter(TextWriter writer, bool color)
{
    private static readonly string[] Palette = ["\e[36m", "\e[33m", "\e[32m", "\e[35m", "\e[34m", "\e[91m", "\e[92m", "\e[93m"];
    private readonly object _gate = new();

    public async Task PrintAllAsync(Supervisor sup)
    {
        await foreach (var ev in sup.Events().ConfigureAwait(false))
            Write(Format(ev));
    }

    public static string Format(UnitEvent ev) => $"{ev.Time.ToLocalTime():HH:mm:ss.fff} {ev.Who} {ev.Kind}: {ev.Reason}";

    public void Output(OutputLine line)
    {
        var prefix = color ? $"{Palette[line.UnitId % Palette.Length]}{line.Name} |\e[0m " : $"{line.Name} | ";
        Write(prefix + line.Text);
    }

    public void Notice(string text) => Write(text);

    private void Write(string s)
    {
        lock (_gate) { writer.WriteLine(s); writer.Flush(); }
    }
}
