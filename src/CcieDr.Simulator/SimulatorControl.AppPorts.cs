using System.Text.Json.Nodes;

namespace CcieDr.Simulator;

/// <summary>The boxes' app ports as loopback stand-ins (see <see cref="AppPortListeners"/>).</summary>
public sealed partial class SimulatorControl
{
    private readonly object appPortsGate = new();
    private AppPortListeners? appPorts;

    internal AppPortListeners AppPortListeners
    {
        get
        {
            lock (appPortsGate)
            {
                return appPorts ??= new AppPortListeners(world);
            }
        }
    }

    /// <summary>The box's app ports on 127.0.0.1 (<c>ports</c>: app port → loopback port), its app state and whether they accept now.</summary>
    public JsonObject AppPorts(string instanceId) => AppPortListeners.Describe(instanceId);

    /// <summary>Sets the app state that opens (started) or closes the box's port stand-ins; null goes back to the stand-in or the default.</summary>
    public void SetAppState(string instanceId, string? state) => AppPortListeners.SetAppState(instanceId, state);

    /// <summary>Reads the box's app state from the Replicated stand-in's state directory (instanceId null: every box; "{instanceId}" is replaced).</summary>
    public void SetAppStandinRoot(string? instanceId, string? root) => AppPortListeners.SetStandinRoot(instanceId, root);

    internal void DisposeAppPorts()
    {
        lock (appPortsGate)
        {
            appPorts?.Dispose();
            appPorts = null;
        }
    }
}
