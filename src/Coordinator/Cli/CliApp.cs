using System.CommandLine;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Cli;

/// <summary>
/// The <c>nascluster</c> command line. <see cref="Run"/> takes the output writers so tests drive the real
/// commands in-process. Bad input of any kind ends in one "error:" line on stderr and exit code 2;
/// stack traces are reserved for bugs (and shown only with NASCLUSTER_DEBUG=1).
/// </summary>
public static class CliApp
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("NasCluster: hardware-aware neural architecture search for Edge TPU-class accelerators.");
        root.Add(ZooCommands.Build());
        root.Add(SpacesCommands.Build());
        root.Add(ArchCommands.Build());
        root.Add(EstimateCommand.Build());
        root.Add(ServeCommand.Build());
        root.Add(BlocksCommand.Build());
        root.Add(HardwareCommands.Build());
        root.Add(ProxyCommand.Build());
        root.Add(DemoCommand.Build());
        root.Add(ReportCommand.Build());
        root.Add(DashboardCommand.Build());
        root.Add(ExportCommand.Build());
        foreach (var c in ExperimentCommands.Build()) root.Add(c);
        return root;
    }

    /// <summary>Standard input of the running command (tests substitute it).</summary>
    internal static readonly AsyncLocal<TextReader?> StandardInput = new();

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        StandardInput.Value = stdin;
        var root = BuildRoot();
        var parse = root.Parse(args.Length == 0 ? ["--help"] : args);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine($"Run 'nascluster {string.Join(' ', CommandPath(parse))} --help' for usage.".Replace("  ", " "));
            return ExitCodes.BadInput;
        }
        try
        {
            var code = parse.Invoke(config);
            return args.Length == 0 ? ExitCodes.BadInput : code;
        }
        catch (Exception e)
        {
            return Report(e, stderr);
        }
    }

    /// <summary>Runs a command body with the project's error policy.</summary>
    internal static int Guard(ParseResult parse, Func<CliOutput, int> body)
    {
        var output = new CliOutput(parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        try
        {
            WarnOfPasswordOnCommandLine(parse, output.Err);
            return body(output);
        }
        catch (Exception e)
        {
            return Report(e, output.Err);
        }
    }

    /// <summary>A password in --db is readable by every user of the machine (`ps`): it still works, with this warning.</summary>
    private static void WarnOfPasswordOnCommandLine(ParseResult parse, TextWriter stderr)
    {
        var tokens = parse.Tokens.Select(t => t.Value).ToList();
        for (var i = 0; i + 1 < tokens.Count; i++)
            if (tokens[i] == "--db" && tokens[i + 1].StartsWith("postgres", StringComparison.OrdinalIgnoreCase)
                                   && NodeConfig.ParseDb(tokens[i + 1]).PasswordInUrl)
                stderr.WriteLine("warning: the database password is on the command line, where `ps` shows it to every user of this machine; " +
                                 "give --db without it and the password in NASCLUSTER_DB_PASSWORD, NASCLUSTER_DB_PASSWORD_FILE or ~/.pgpass");
    }

    private static int Report(Exception e, TextWriter stderr)
    {
        switch (e)
        {
            case NasInputException input:
                stderr.WriteLine($"error: {input.Message}");
                return ExitCodes.BadInput;
            case OperationCanceledException:
                stderr.WriteLine("cancelled");
                return ExitCodes.Failure;
            default:
                stderr.WriteLine($"internal error: {e.GetType().Name}: {e.Message}");
                if (Environment.GetEnvironmentVariable("NASCLUSTER_DEBUG") == "1") stderr.WriteLine(e);
                else stderr.WriteLine("(set NASCLUSTER_DEBUG=1 for the stack trace; please report it)");
                return ExitCodes.Failure;
        }
    }

    private static List<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return names;
    }
}
