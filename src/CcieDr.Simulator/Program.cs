using System.Globalization;
using System.Runtime.InteropServices;

namespace CcieDr.Simulator;

public static class Program
{
    private const string Usage = """
        CcieDr AWS simulator (EC2 Query protocol on 127.0.0.1)

        usage: CcieDr.Simulator [--port <n>] [--seed circleci] [--seed-region <region>]
                                [--realtime | --clock manual|realtime] [--transition-seconds <x>]
                                [--page-size <n>] [--ready-file <path>] [--exit-with-stdin] [--log-requests] [--verbose]
                                [--ssm-sandbox | --no-ssm-sandbox]

          --port <n>               TCP port on 127.0.0.1 (0 = a free port; default 0)
          --seed circleci          seed the CircleCI topology at start
          --seed-region <regions>  region(s) of the seed, comma-separated (default us-east-1)
          --realtime               real-time clock (default for the exe)
          --clock manual|realtime  clock mode (manual: time moves only via POST /_sim/clock/advance)
          --transition-seconds <x> duration of each state transition (default 2)
          --page-size <n>          default page size of paginated Describe* calls (default: no paging)
          --ready-file <path>      write the base URL to <path> once listening
          --exit-with-stdin        stop when stdin closes
          --log-requests           print one line per AWS request
          --ssm-sandbox            run SSM commands for real in a per-instance bubblewrap sandbox (default)
          --no-ssm-sandbox         answer SSM commands only from response rules (POST /_sim/ssm/responses)
        """;

    public static async Task<int> Main(string[] args)
    {
        var options = new SimulatorOptions { ClockMode = ClockMode.Realtime, SsmSandbox = true };
        string? readyFile = null;
        var exitWithStdin = false;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--port":
                        options.Port = int.Parse(Next(), CultureInfo.InvariantCulture);
                        break;
                    case "--seed":
                        var seed = Next();
                        options.SeedCircleCi = seed == "circleci" ? true : throw new ArgumentException($"unknown seed '{seed}' (known: circleci)");
                        break;
                    case "--seed-region":
                        options.SeedRegion = Next();
                        break;
                    case "--realtime":
                        options.ClockMode = ClockMode.Realtime;
                        break;
                    case "--clock":
                        options.ClockMode = Next() switch
                        {
                            "manual" => ClockMode.Manual,
                            "realtime" => ClockMode.Realtime,
                            var m => throw new ArgumentException($"unknown clock mode '{m}'"),
                        };
                        break;
                    case "--transition-seconds":
                        options.Durations.SetAll(double.Parse(Next(), CultureInfo.InvariantCulture));
                        break;
                    case "--page-size":
                        var ps = int.Parse(Next(), CultureInfo.InvariantCulture);
                        options.PageSize = ps > 0 ? ps : null;
                        break;
                    case "--ready-file":
                        readyFile = Next();
                        break;
                    case "--exit-with-stdin":
                        exitWithStdin = true;
                        break;
                    case "--log-requests":
                        options.LogRequests = true;
                        break;
                    case "--verbose":
                        options.Verbose = true;
                        break;
                    case "--ssm-sandbox":
                        options.SsmSandbox = true;
                        break;
                    case "--no-ssm-sandbox":
                        options.SsmSandbox = false;
                        break;
                    case "-h" or "--help":
                        Console.WriteLine(Usage);
                        return 0;
                    default:
                        throw new ArgumentException($"unknown argument '{args[i]}'");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine("simulator: " + e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        await using var server = await SimulatorServer.StartAsync(options).ConfigureAwait(false);
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        PosixSignalRegistration? term = null;
        try
        {
            term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                stop.Cancel();
            });
        }
        catch (PlatformNotSupportedException)
        {
            // Ctrl+C and --exit-with-stdin still stop it.
        }

        using var termRegistration = term;
        if (exitWithStdin)
        {
            _ = Task.Run(() =>
            {
                try
                {
                    var stdin = Console.OpenStandardInput();
                    var buffer = new byte[256];
                    while (stdin.Read(buffer, 0, buffer.Length) > 0)
                    {
                    }
                }
                catch (IOException)
                {
                }

                stop.Cancel();
            });
        }

        Console.WriteLine($"CcieDr simulator listening on {server.Url} (clock {options.ClockMode.ToString().ToLowerInvariant()}, transitions {options.Durations.InstancePending}s{(options.SeedCircleCi ? ", seeded circleci in " + options.SeedRegion : "")})");
        if (server.Control.SsmSandboxEnabled && server.Control.SsmSandboxUnavailable is { } why)
        {
            Console.Error.WriteLine($"simulator: warning: SSM commands will not run (they fail with exit 127): {why}. Or start with --no-ssm-sandbox and answer them with POST /_sim/ssm/responses.");
        }

        if (readyFile is not null)
        {
            var tmp = readyFile + ".tmp";
            await File.WriteAllTextAsync(tmp, server.Url.ToString()).ConfigureAwait(false);
            File.Move(tmp, readyFile, overwrite: true);
        }

        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        Console.WriteLine("CcieDr simulator stopping");
        return 0;
    }
}
