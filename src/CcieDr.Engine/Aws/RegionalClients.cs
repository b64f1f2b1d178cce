using System;
using System.Collections.Generic;

namespace CcieDr.Engine.Aws
{
    /// <summary>
    /// One client per region for the life of an operation (a cmdlet's whole pipeline): created on first use,
    /// shared by every call in that region, disposed together. Safe to use from concurrent tasks.
    /// </summary>
    /// <typeparam name="T">The service client (IAmazonEC2, IAmazonS3, ...).</typeparam>
    public sealed class RegionalClients<T> : IDisposable
        where T : class, IDisposable
    {
        private readonly Func<string, T> _create;
        private readonly Dictionary<string, T> _clients = new Dictionary<string, T>(StringComparer.Ordinal);
        private bool _disposed;

        /// <summary>Creates the cache; <paramref name="create"/> makes the client for a region.</summary>
        public RegionalClients(Func<string, T> create) => _create = create ?? throw new ArgumentNullException(nameof(create));

        /// <summary>The client for <paramref name="region"/>.</summary>
        public T For(string region)
        {
            if (string.IsNullOrEmpty(region))
            {
                throw new ArgumentException("A region is required.", nameof(region));
            }

            lock (_clients)
            {
                if (_disposed)
                {
                    throw new ObjectDisposedException(nameof(RegionalClients<T>));
                }

                if (!_clients.TryGetValue(region, out T? client))
                {
                    client = _create(region);
                    _clients[region] = client;
                }

                return client;
            }
        }

        /// <summary>The regions a client was made for.</summary>
        public IReadOnlyCollection<string> Regions
        {
            get
            {
                lock (_clients)
                {
                    return new List<string>(_clients.Keys);
                }
            }
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            List<T> clients;
            lock (_clients)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                clients = new List<T>(_clients.Values);
                _clients.Clear();
            }

            foreach (T c in clients)
            {
                c.Dispose();
            }
        }
    }
}
