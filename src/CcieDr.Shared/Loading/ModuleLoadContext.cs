using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;

namespace CcieDr.Loading
{
    /// <summary>
    /// The module's private load context. Everything shipped in the module's lib folder loads here
    /// (the cmdlets, the engine, AWSSDK.*, SharpZipLib, ZstdSharp), except:
    /// <list type="bullet">
    /// <item>CcieDr.Shared (this assembly): output types must have one identity for scripts;</item>
    /// <item>assemblies the host already provides at the same or a newer version (the runtime's own
    /// System.* and PowerShell's System.Management.Automation), which unify with the default context.</item>
    /// </list>
    /// </summary>
    internal sealed class ModuleLoadContext : AssemblyLoadContext
    {
        private readonly string _directory;
        private readonly Dictionary<string, string> _platform; // simple name -> path (versions read lazily)

        public ModuleLoadContext(string directory)
        {
            _directory = directory;
            _platform = ReadTrustedPlatformAssemblies();
        }

        public override string ToString() => "CcieDr (" + _directory + ")";

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            string name = assemblyName.Name ?? string.Empty;
            if (name.Length == 0 || string.Equals(name, typeof(ModuleLoader).Assembly.GetName().Name, StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            string candidate = Path.Combine(_directory, name + ".dll");
            if (!File.Exists(candidate) || ProvidedByHost(name, assemblyName.Version))
            {
                return null; // default context: the runtime, PowerShell, or not ours
            }

            return LoadFromAssemblyPath(candidate);
        }

        private bool ProvidedByHost(string name, Version? wanted)
        {
            if (!_platform.TryGetValue(name, out string? hostPath))
            {
                return false;
            }

            Version? hostVersion = TryGetVersion(hostPath);
            return wanted is null || hostVersion is null || hostVersion >= wanted;
        }

        private static Dictionary<string, string> ReadTrustedPlatformAssemblies()
        {
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is not string list)
            {
                return result;
            }

            foreach (string path in list.Split(new[] { Path.PathSeparator }, StringSplitOptions.RemoveEmptyEntries))
            {
                string simple = Path.GetFileNameWithoutExtension(path);
                if (!result.ContainsKey(simple))
                {
                    result[simple] = path;
                }
            }

            return result;
        }

        private static Version? TryGetVersion(string path)
        {
            try
            {
                return AssemblyName.GetAssemblyName(path).Version;
            }
            catch (Exception e) when (e is BadImageFormatException or IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }
    }
}
