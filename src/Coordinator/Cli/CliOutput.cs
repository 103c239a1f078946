using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary>
/// Where a command writes: plain text and JSON go to <see cref="Out"/>; tables go through a Spectre
/// console bound to the same writer (ANSI only on a real terminal, never in pipes or tests).
/// </summary>
internal sealed class CliOutput(TextWriter @out, TextWriter err)
{
    private IAnsiConsole? _console;

    public TextWriter Out { get; } = @out;

    public TextWriter Err { get; } = err;

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "One of the command's three streams, beside Out and Err")]
    public TextReader In => CliApp.StandardInput.Value ?? System.Console.In;

    public IAnsiConsole Console => _console ??= CreateConsole();

    private IAnsiConsole CreateConsole()
    {
        var terminal = ReferenceEquals(Out, System.Console.Out) && !System.Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Out),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = 200;
        return console;
    }

    /// <summary>Writes an indented JSON document built by <paramref name="write"/>.</summary>
    public void Json(Action<Utf8JsonWriter> write, bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(writer);
        Out.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }
}
