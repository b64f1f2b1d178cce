using System;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>Recovery points from the snapshot catalog (snapshot tags), the source the cmdlet uses.</summary>
    public sealed class CatalogRecoveryPointSource : IRecoveryPointSource
    {
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;

        public CatalogRecoveryPointSource(IAmazonEC2 ec2, string region)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
        }

        public Task<RecoveryPoint?> GetAsync(string recoveryPointId, CancellationToken cancellationToken)
            => RecoveryPointCatalog.GetAsync(_ec2, _region, recoveryPointId, cancellationToken);
    }
}
