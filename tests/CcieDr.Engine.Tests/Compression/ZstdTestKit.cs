using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using CcieDr.Engine.Archive.Zstd;

namespace CcieDr.Engine.Tests.Compression;

/// <summary>Data generators, process runners and stream doubles for the compression tests.</summary>
internal static class ZstdTestKit
{
    public static string NewTempDir(string tag)
    {
        var d = Path.Combine(Path.GetTempPath(), "ccie-zstd-" + tag + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }

    public static void DeleteTree(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, true);
        }
    }

    public static (int Code, byte[] Out, string Err) Run(string? cwd, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (cwd != null)
        {
            psi.WorkingDirectory = cwd;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var so = p.StandardOutput.BaseStream.CopyToAsync(output);
        var se = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        so.Wait();
        return (p.ExitCode, output.ToArray(), se.Result);
    }

    public static byte[] RunOk(string? cwd, string file, params string[] args)
    {
        var r = Run(cwd, file, args);
        if (r.Code != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({r.Code}): {r.Err}");
        }

        return r.Out;
    }

    public static string Text(byte[] b) => Encoding.UTF8.GetString(b);

    public static string Sha(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Deterministic data mixing text-like runs and random bytes (compressible, not trivially).</summary>
    public static byte[] Mixed(int n, int seed)
    {
        var rnd = new Random(seed);
        var words = new[] { "build ", "circle ", "container ", "queue ", "postgres ", "mongo ", "\n", "0123 ", "redis " };
        var b = new byte[n];
        int i = 0;
        while (i < n)
        {
            if (rnd.Next(5) == 0)
            {
                int len = Math.Min(n - i, rnd.Next(16, 256));
                rnd.NextBytes(b.AsSpan(i, len));
                i += len;
            }
            else
            {
                var w = words[rnd.Next(words.Length)];
                for (int k = 0; k < w.Length && i < n; k++)
                {
                    b[i++] = (byte)w[k];
                }
            }
        }

        return b;
    }

    public static byte[] Random(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static byte[] Compress(byte[] data, int threads = 2, int level = 3)
    {
        var ms = new MemoryStream();
        using (var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = threads, Level = level }, leaveOpen: true))
        {
            // Odd-sized writes, as a tar writer would make them.
            int pos = 0;
            int step = 70_001;
            while (pos < data.Length)
            {
                int n = Math.Min(step, data.Length - pos);
                z.Write(data, pos, n);
                pos += n;
            }

            z.Complete();
        }

        return ms.ToArray();
    }

    public static byte[] Decompress(byte[] compressed, int readSize = 65536)
    {
        using var z = new ZstdDecompressStream(new MemoryStream(compressed));
        var output = new MemoryStream();
        var buf = new byte[readSize];
        int n;
        while ((n = z.Read(buf, 0, buf.Length)) > 0)
        {
            output.Write(buf, 0, n);
        }

        return output.ToArray();
    }

    public static byte[] ReadAll(Stream s)
    {
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }
}

/// <summary>A non-seekable source that hands out at most <c>chunk</c> bytes per read, like a network body.</summary>
internal sealed class TrickleStream : Stream
{
    private readonly byte[] _data;
    private readonly int _chunk;
    private int _pos;

    public TrickleStream(byte[] data, int chunk)
    {
        _data = data;
        _chunk = chunk;
    }

    public bool Disposed { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = Math.Min(Math.Min(count, _chunk), _data.Length - _pos);
        Buffer.BlockCopy(_data, _pos, buffer, offset, n);
        _pos += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }
}

/// <summary>An output that accepts <c>limit</c> bytes and then fails every write (a dropped S3 connection, a full disk).</summary>
internal sealed class FailingSink : WriteOnlySink
{
    private readonly long _limit;
    private readonly Func<Exception>? _error;

    /// <param name="limit">Bytes accepted before the first failure.</param>
    /// <param name="error">The exception of the first failure (an IOException when null); later writes fail with an IOException.</param>
    public FailingSink(long limit, Func<Exception>? error = null)
    {
        _limit = limit;
        _error = error;
    }

    public MemoryStream Accepted { get; } = new();

    public int WritesAfterFailure { get; private set; }

    public bool Failed { get; private set; }

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (Failed)
        {
            WritesAfterFailure++;
            throw new IOException("sink already failed");
        }

        if (Accepted.Length + count > _limit)
        {
            Failed = true;
            throw _error?.Invoke() ?? new IOException("simulated write failure");
        }

        Accepted.Write(buffer, offset, count);
    }
}

/// <summary>An output that takes <c>delay</c> for every write (a slow disk or network), then keeps the bytes.</summary>
internal sealed class SlowSink : WriteOnlySink
{
    private readonly TimeSpan _delay;

    public SlowSink(TimeSpan delay) => _delay = delay;

    public MemoryStream Data { get; } = new();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Thread.Sleep(_delay);
        lock (Data)
        {
            Data.Write(buffer, offset, count);
        }
    }
}

/// <summary>The parts of a write-only, non-seekable output stream that every test sink shares.</summary>
internal abstract class WriteOnlySink : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
