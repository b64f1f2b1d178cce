using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Infrastructure;

/// <summary>
/// What the simulator's fault matrices (AwsFaultMatrixTests, FailoverFaultMatrixTests, BuilderFaultMatrixTests)
/// share: the four faults every cell is run with, the cells they make, and the two waits on the simulator's request log that the Ctrl+C
/// cells use (each a hang guard, not a timing assertion).
/// </summary>
internal static class SimulatorFaultMatrixKit
{
    /// <summary>The faults of every cell: throttle, internal error, answer lost after the change, timeout.</summary>
    public static readonly IReadOnlyList<string> Faults = [FaultKinds.Throttle, FaultKinds.InternalError, FaultKinds.DropAfter, FaultKinds.Timeout];

    /// <summary>Every cell of a matrix: each operation × each of <see cref="Faults"/> × {once, persistent}.</summary>
    public static TheoryData<string, string, string> Cells(IEnumerable<string> operations)
    {
        var data = new TheoryData<string, string, string>();
        foreach (string op in operations)
        {
            foreach (string fault in Faults)
            {
                data.Add(op, fault, "once");
                data.Add(op, fault, "persistent");
            }
        }

        return data;
    }

    /// <summary>One case per operation (the Ctrl+C cells).</summary>
    public static TheoryData<string> EveryOperation(IEnumerable<string> operations)
    {
        var data = new TheoryData<string>();
        foreach (string op in operations)
        {
            data.Add(op);
        }

        return data;
    }

    /// <summary>The log once the simulator saw the slow call at <paramref name="index"/> cancelled by the client (and so never ran it).</summary>
    public static async Task<IReadOnlyList<RequestLogEntry>> CancelledAsync(SimulatorControl control, int index)
    {
        for (int i = 0; i < 3000; i++)
        {
            IReadOnlyList<RequestLogEntry> log = control.RequestLog();
            if (log[index].ErrorCode == "ClientCancelled")
            {
                return log;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException("the simulator never saw the slow call cancelled: it still holds it");
    }

    /// <summary>Where the first <paramref name="action"/> request stands in the log, once it arrived; fails when <paramref name="running"/> ends first.</summary>
    public static async Task<int> LogIndexOfAsync(SimulatorControl control, string action, Task running)
    {
        for (int i = 0; i < 6000; i++)
        {
            IReadOnlyList<RequestLogEntry> log = control.RequestLog();
            for (int n = 0; n < log.Count; n++)
            {
                if (log[n].Action == action)
                {
                    return n;
                }
            }

            if (running.IsCompleted)
            {
                await running;
                Assert.Fail($"the operation ended before calling {action}");
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"{action} was never called");
    }
}
