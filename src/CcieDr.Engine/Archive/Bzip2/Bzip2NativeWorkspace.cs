using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Memory for libbz2's compressor state (about 7.6 MB per stream at -9), handed out through bz_stream's
    /// bzalloc/bzfree and reused across blocks. With malloc, each block's state is freed and reallocated, and
    /// glibc spreads those large chunks over several per-thread arenas that keep them: the process grows with the
    /// amount of data. Here the blocks are recycled, so memory stays flat; <see cref="Trim"/> releases them.
    /// </summary>
    internal static class Bzip2NativeWorkspace
    {
        private static readonly object Gate = new object();
        private static readonly Dictionary<long, Stack<IntPtr>> Free = new Dictionary<long, Stack<IntPtr>>();
        private static readonly Dictionary<IntPtr, long> Sizes = new Dictionary<IntPtr, long>();
        private static readonly AllocFn AllocDelegate = Alloc;
        private static readonly FreeFn FreeDelegate = Release;
        private static int s_users;

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate IntPtr AllocFn(IntPtr opaque, int items, int size);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void FreeFn(IntPtr opaque, IntPtr address);

        public static IntPtr AllocPointer { get; } = Marshal.GetFunctionPointerForDelegate(AllocDelegate);

        public static IntPtr FreePointer { get; } = Marshal.GetFunctionPointerForDelegate(FreeDelegate);

        /// <summary>Marks a user (a compressing stream); the last one to leave trims the pool.</summary>
        public static void Enter() => Interlocked.Increment(ref s_users);

        public static void Leave()
        {
            if (Interlocked.Decrement(ref s_users) == 0)
            {
                Bzip2BlockCompressor.ReleaseEncoders();
                Trim();
            }
        }

        /// <summary>Releases every block not in use.</summary>
        public static void Trim()
        {
            lock (Gate)
            {
                foreach (var stack in Free.Values)
                {
                    while (stack.Count > 0)
                    {
                        var p = stack.Pop();
                        Sizes.Remove(p);
                        Marshal.FreeHGlobal(p);
                    }
                }
            }
        }

        private static IntPtr Alloc(IntPtr opaque, int items, int size)
        {
            var bytes = (long)items * size;
            lock (Gate)
            {
                if (Free.TryGetValue(bytes, out var stack) && stack.Count > 0)
                {
                    return stack.Pop();
                }
            }

            try
            {
                var p = Marshal.AllocHGlobal(new IntPtr(bytes));
                lock (Gate)
                {
                    Sizes[p] = bytes;
                }

                return p;
            }
            catch (OutOfMemoryException)
            {
                return IntPtr.Zero; // libbz2 reports BZ_MEM_ERROR.
            }
        }

        private static void Release(IntPtr opaque, IntPtr address)
        {
            if (address == IntPtr.Zero)
            {
                return;
            }

            lock (Gate)
            {
                if (!Sizes.TryGetValue(address, out var bytes))
                {
                    return;
                }

                if (!Free.TryGetValue(bytes, out var stack))
                {
                    stack = new Stack<IntPtr>();
                    Free[bytes] = stack;
                }

                stack.Push(address);
            }
        }
    }
}
