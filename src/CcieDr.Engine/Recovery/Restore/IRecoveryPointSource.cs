using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>
    /// Where the restore gets a recovery point by id. The cmdlet wires the snapshot catalog
    /// (RecoveryPointCatalog) behind it; tests hand in points directly.
    /// </summary>
    public interface IRecoveryPointSource
    {
        /// <summary>The point with this id, or null when no snapshot carries it.</summary>
        Task<RecoveryPoint?> GetAsync(string recoveryPointId, CancellationToken cancellationToken);
    }
}
