namespace CcieDr.Simulator;

/// <summary>How simulated time moves.</summary>
public enum ClockMode
{
    /// <summary>Time moves only when the control API advances it (tests).</summary>
    Manual,

    /// <summary>Time follows the wall clock (plus any manual advances) (demo, standalone).</summary>
    Realtime,
}

/// <summary>Durations (seconds of simulated time) of every timed transition.</summary>
public sealed class TransitionDurations
{
    /// <summary>pending → running.</summary>
    public double InstancePending { get; set; } = 2;

    /// <summary>stopping → stopped.</summary>
    public double InstanceStopping { get; set; } = 2;

    /// <summary>shutting-down → terminated.</summary>
    public double InstanceShuttingDown { get; set; } = 2;

    /// <summary>Status checks initializing → ok, counted from the moment the instance is running.</summary>
    public double StatusInitializing { get; set; } = 2;

    /// <summary>A terminated instance stays visible this long, then vanishes.</summary>
    public double TerminatedRetention { get; set; } = 60;

    /// <summary>Snapshot pending → completed (progress grows linearly).</summary>
    public double Snapshot { get; set; } = 2;

    /// <summary>CopySnapshot pending → completed.</summary>
    public double SnapshotCopy { get; set; } = 2;

    /// <summary>Image pending → available.</summary>
    public double Image { get; set; } = 2;

    /// <summary>Volume creating → available.</summary>
    public double VolumeCreate { get; set; } = 2;

    /// <summary>Volume attaching → attached and detaching → detached.</summary>
    public double VolumeAttach { get; set; } = 1;

    /// <summary>A resumed Auto Scaling group launches replacements this long after it first sees it is short.</summary>
    public double AutoScalingReplace { get; set; } = 2;

    /// <summary>An SSM Run Command invocation runs this long (unless its response says otherwise).</summary>
    public double SsmCommand { get; set; } = 1;

    /// <summary>Sets every transition (not the retention) to <paramref name="seconds"/>.</summary>
    public void SetAll(double seconds)
    {
        InstancePending = InstanceStopping = InstanceShuttingDown = StatusInitializing = seconds;
        Snapshot = SnapshotCopy = Image = VolumeCreate = AutoScalingReplace = seconds;
        VolumeAttach = SsmCommand = seconds / 2;
    }

    public TransitionDurations Clone() => (TransitionDurations)MemberwiseClone();
}

/// <summary>Start-up options of the simulator.</summary>
public sealed class SimulatorOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 picks a free port.</summary>
    public int Port { get; set; }

    /// <summary>Seed the CircleCI topology at start (in <see cref="SeedRegion"/>).</summary>
    public bool SeedCircleCi { get; set; }

    /// <summary>Region(s) of the seeded topology, comma-separated (each gets its own copy).</summary>
    public string SeedRegion { get; set; } = "us-east-1";

    /// <summary>Manual (tests) or real-time (demo) clock.</summary>
    public ClockMode ClockMode { get; set; } = ClockMode.Manual;

    /// <summary>Transition durations.</summary>
    public TransitionDurations Durations { get; set; } = new();

    /// <summary>Default page size of Describe* calls that support pagination when the caller gives no MaxResults; null = everything in one page.</summary>
    public int? PageSize { get; set; }

    /// <summary>Start time of the simulated clock; null = now (UTC, whole seconds).</summary>
    public DateTime? StartTime { get; set; }

    /// <summary>AWS account id that owns everything.</summary>
    public string AccountId { get; set; } = "123456789012";

    /// <summary>Print one line per AWS request (time, region, action, status, error, fault) to stdout.</summary>
    public bool LogRequests { get; set; }

    /// <summary>Write Kestrel/ASP.NET logs to the console.</summary>
    public bool Verbose { get; set; }

    /// <summary>
    /// Run SSM commands that no handler or rule answers for real, in a per-instance bubblewrap sandbox (see the README's
    /// "SSM sandbox"). Off by default in-proc; the exe turns it on (--no-ssm-sandbox turns it off).
    /// </summary>
    public bool SsmSandbox { get; set; }
}
