using System.Collections.Concurrent;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Reuses byte arrays of one size between threads (the block buffers of the parallel bzip2 streams), so a long
    /// archive does not allocate a large-object-heap array per block. Arrays of another size are never kept, and
    /// at most <c>capacity</c> arrays are kept.
    /// </summary>
    internal sealed class BufferBag
    {
        private readonly ConcurrentBag<byte[]> _bag = new ConcurrentBag<byte[]>();
        private readonly int _capacity;

        public BufferBag(int size, int capacity)
        {
            Size = size;
            _capacity = capacity;
        }

        /// <summary>Length of the arrays handed out and kept.</summary>
        public int Size { get; }

        /// <summary>An array of <see cref="Size"/> bytes.</summary>
        public byte[] Rent() => _bag.TryTake(out var b) ? b : new byte[Size];

        /// <summary>An array of at least <paramref name="length"/> bytes: a pooled one when it fits, else a new exact one.</summary>
        public byte[] Rent(int length) => length <= Size ? Rent() : new byte[length];

        /// <summary>Keeps <paramref name="array"/> for reuse if it has the pool's size and the pool is not full.</summary>
        public void Return(byte[] array)
        {
            if (array.Length == Size && _bag.Count < _capacity)
            {
                _bag.Add(array);
            }
        }
    }
}
