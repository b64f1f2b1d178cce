using System;
using System.Globalization;
using System.IO;
using System.Text.Json;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>
    /// Reads a manifest document from a stream token by token, so a manifest of any number of entries is never
    /// held whole: the header, totals and warnings go into an <see cref="ArchiveManifest"/>, each entry (validated)
    /// to a callback, in document order. The one parser of the manifest format (<see cref="ArchiveManifest.Parse(byte[])"/> uses it).
    /// </summary>
    internal static class ArchiveManifestReader
    {
        /// <summary>Reads the document; <paramref name="onEntry"/> (may be null: validate only) receives every entry.</summary>
        /// <exception cref="FormatException">The document is not a valid ccie-dr manifest.</exception>
        internal static ArchiveManifest Read(Stream utf8Json, Action<ManifestEntry>? onEntry)
        {
            var pump = new JsonPump(utf8Json);
            try
            {
                return ReadDocument(pump, onEntry);
            }
            catch (JsonException ex)
            {
                throw new FormatException("The archive manifest is not valid JSON: " + ex.Message, ex);
            }
        }

        private static ArchiveManifest ReadDocument(JsonPump p, Action<ManifestEntry>? onEntry)
        {
            if (!p.Read() || p.Token != JsonTokenType.StartObject)
            {
                throw new FormatException("The archive manifest is not a JSON object.");
            }

            var m = new ArchiveManifest { Format = string.Empty };
            string? format = null;
            string? created = null;
            bool entries = false;
            while (p.Read() && p.Token == JsonTokenType.PropertyName)
            {
                var name = p.String!;
                p.Read();
                switch (name)
                {
                    case "format":
                        format = p.Token == JsonTokenType.String ? p.String : null;
                        p.SkipValue();
                        break;
                    case "tool":
                        m.Tool = OptionalString(p, name) ?? string.Empty;
                        break;
                    case "host":
                        m.Host = OptionalString(p, name) ?? string.Empty;
                        break;
                    case "sourcePath":
                        m.SourcePath = OptionalString(p, name) ?? string.Empty;
                        break;
                    case "created":
                        created = OptionalString(p, name);
                        break;
                    case "fileCount":
                        m.FileCount = OptionalInt64(p, name);
                        break;
                    case "totalBytes":
                        m.TotalBytes = OptionalInt64(p, name);
                        break;
                    case "warnings":
                        ReadWarnings(p, m);
                        break;
                    case "entries":
                        if (p.Token != JsonTokenType.StartArray)
                        {
                            throw new FormatException("The archive manifest has no 'entries' array.");
                        }

                        entries = true;
                        m.EntryCount = ReadEntries(p, onEntry);
                        break;
                    default:
                        p.SkipValue();
                        break;
                }
            }

            if (p.Read())
            {
                throw new FormatException("The archive manifest is not valid JSON: data after the end of the document.");
            }

            if (format is null)
            {
                throw new FormatException("The archive manifest is missing the string property 'format'.");
            }

            m.Format = format;
            if (!string.Equals(m.Format, ArchiveManifest.FormatId, StringComparison.Ordinal))
            {
                throw new FormatException($"Unsupported manifest format '{m.Format}' (expected '{ArchiveManifest.FormatId}').");
            }

            if (created != null)
            {
                if (!DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var c))
                {
                    throw new FormatException($"Manifest 'created' is not an ISO-8601 time: '{created}'.");
                }

                m.Created = c;
            }

            if (!entries)
            {
                throw new FormatException("The archive manifest has no 'entries' array.");
            }

            return m;
        }

        private static void ReadWarnings(JsonPump p, ArchiveManifest m)
        {
            if (p.Token != JsonTokenType.StartArray)
            {
                p.SkipValue();
                return;
            }

            while (p.Read() && p.Token != JsonTokenType.EndArray)
            {
                if (p.Token == JsonTokenType.String)
                {
                    m.Warnings.Add(p.String ?? string.Empty);
                }
                else
                {
                    p.SkipValue();
                }
            }
        }

        private static long ReadEntries(JsonPump p, Action<ManifestEntry>? onEntry)
        {
            long count = 0;
            while (p.Read() && p.Token != JsonTokenType.EndArray)
            {
                if (p.Token != JsonTokenType.StartObject)
                {
                    throw new FormatException("A manifest entry is not a JSON object.");
                }

                string? path = null, type = null, sha = null, link = null;
                bool pathSeen = false, typeSeen = false;
                long size = 0, mode = 0, uid = 0, gid = 0;
                double mtime = 0;
                while (p.Read() && p.Token == JsonTokenType.PropertyName)
                {
                    var name = p.String!;
                    p.Read();
                    switch (name)
                    {
                        case "path":
                            pathSeen = p.Token == JsonTokenType.String;
                            path = pathSeen ? p.String : null;
                            p.SkipValue();
                            break;
                        case "type":
                            typeSeen = p.Token == JsonTokenType.String;
                            type = typeSeen ? p.String : null;
                            p.SkipValue();
                            break;
                        case "size":
                            size = OptionalInt64(p, name);
                            break;
                        case "mode":
                            mode = OptionalInt64(p, name);
                            break;
                        case "uid":
                            uid = OptionalInt64(p, name);
                            break;
                        case "gid":
                            gid = OptionalInt64(p, name);
                            break;
                        case "sha256":
                            sha = OptionalString(p, name);
                            break;
                        case "linkTarget":
                            link = OptionalString(p, name);
                            break;
                        case "mtime":
                            if (p.Token == JsonTokenType.Number)
                            {
                                mtime = p.Double;
                            }

                            p.SkipValue();
                            break;
                        default:
                            p.SkipValue();
                            break;
                    }
                }

                if (!pathSeen)
                {
                    throw new FormatException("The archive manifest is missing the string property 'path'.");
                }

                if (!typeSeen)
                {
                    throw new FormatException("The archive manifest is missing the string property 'type'.");
                }

                var e = new ManifestEntry(path ?? string.Empty, ArchiveManifest.ParseType(type))
                {
                    Size = size,
                    Mode = (int)mode,
                    Uid = uid,
                    Gid = gid,
                    Sha256 = sha,
                    LinkTarget = link,
                    Mtime = mtime,
                };
                ArchiveManifest.Validate(e);
                count++;
                onEntry?.Invoke(e);
            }

            return count;
        }

        private static string? OptionalString(JsonPump p, string name)
        {
            if (p.Token == JsonTokenType.Null)
            {
                return null;
            }

            if (p.Token != JsonTokenType.String)
            {
                throw new FormatException($"Manifest property '{name}' must be a string.");
            }

            return p.String;
        }

        private static long OptionalInt64(JsonPump p, string name)
        {
            if (p.Token == JsonTokenType.Null)
            {
                return 0;
            }

            if (p.Token != JsonTokenType.Number || !p.IsInt64)
            {
                throw new FormatException($"Manifest property '{name}' must be an integer.");
            }

            return p.Int64;
        }

        /// <summary>Utf8JsonReader over a stream: one token at a time, refilling a buffer that grows only to the longest token.</summary>
        private sealed class JsonPump
        {
            private readonly Stream _stream;
            private byte[] _buffer = new byte[64 * 1024];
            private int _start;
            private int _end;
            private bool _final;
            private JsonReaderState _state = new JsonReaderState(new JsonReaderOptions { MaxDepth = 16 });
            private int _depth;

            internal JsonPump(Stream stream)
            {
                _stream = stream;
            }

            internal JsonTokenType Token { get; private set; }

            internal string? String { get; private set; }

            internal bool IsInt64 { get; private set; }

            internal long Int64 { get; private set; }

            internal double Double { get; private set; }

            /// <summary>Next token; false at the end of the document.</summary>
            internal bool Read()
            {
                while (true)
                {
                    var r = new Utf8JsonReader(new ReadOnlySpan<byte>(_buffer, _start, _end - _start), _final, _state);
                    if (r.Read())
                    {
                        Token = r.TokenType;
                        String = Token == JsonTokenType.String || Token == JsonTokenType.PropertyName ? Known(ref r) ?? r.GetString() : null;
                        if (Token == JsonTokenType.Number)
                        {
                            IsInt64 = r.TryGetInt64(out var l);
                            Int64 = l;
                            Double = r.TryGetDouble(out var d) ? d : 0;
                        }

                        _depth = r.CurrentDepth;
                        _start += (int)r.BytesConsumed;
                        _state = r.CurrentState;
                        return true;
                    }

                    if (_final)
                    {
                        return false;
                    }

                    Refill();
                }
            }

            // Property names and type names repeat in every entry: hand out one string each instead of a new one a token.
            private static readonly string[] KnownNames =
            {
                "path", "type", "size", "mode", "mtime", "uid", "gid", "sha256", "linkTarget", "file", "directory", "symlink", "hardlink",
            };

            private static readonly byte[][] KnownBytes = Array.ConvertAll(KnownNames, n => System.Text.Encoding.UTF8.GetBytes(n));

            private static string? Known(ref Utf8JsonReader r)
            {
                if (r.HasValueSequence || r.ValueIsEscaped || r.ValueSpan.Length > 10)
                {
                    return null;
                }

                var span = r.ValueSpan;
                for (int i = 0; i < KnownBytes.Length; i++)
                {
                    if (span.SequenceEqual(KnownBytes[i]))
                    {
                        return KnownNames[i];
                    }
                }

                return null;
            }

            /// <summary>Skips the value whose first token was just read (nothing to do for a scalar).</summary>
            internal void SkipValue()
            {
                if (Token != JsonTokenType.StartObject && Token != JsonTokenType.StartArray)
                {
                    return;
                }

                int depth = _depth;
                while (Read())
                {
                    if ((Token == JsonTokenType.EndObject || Token == JsonTokenType.EndArray) && _depth == depth)
                    {
                        return;
                    }
                }
            }

            private void Refill()
            {
                int pending = _end - _start;
                if (pending > 0 && _start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
                }

                _start = 0;
                _end = pending;
                if (_end == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2); // one token longer than the buffer
                }

                while (_end < _buffer.Length)
                {
                    int n = _stream.Read(_buffer, _end, _buffer.Length - _end);
                    if (n <= 0)
                    {
                        _final = true;
                        break;
                    }

                    _end += n;
                }
            }
        }
    }
}
