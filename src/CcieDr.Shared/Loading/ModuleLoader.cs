using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace CcieDr.Loading
{
    /// <summary>
    /// Entry point used by CcieDr.psm1. Loads the cmdlet assembly (and through it the engine and every
    /// third-party assembly) so that they cannot clash with other modules in the same session.
    /// This assembly stays in the default load context: it also holds the public output types.
    /// </summary>
    public static class ModuleLoader
    {
        /// <summary>Name of the assembly that holds the cmdlets.</summary>
        public const string CommandsAssemblyName = "CcieDr";

        private static readonly object Gate = new object();
        private static Assembly? _commands;

        /// <summary>
        /// PowerShell 7+: loads the cmdlet assembly into a private AssemblyLoadContext rooted at
        /// <paramref name="libDirectory"/>. Repeated calls return the same assembly.
        /// </summary>
        public static Assembly LoadIsolated(string libDirectory)
        {
            lock (Gate)
            {
                return _commands ??= LoadIntoPrivateContext(Path.GetFullPath(libDirectory));
            }
        }

        /// <summary>
        /// Windows PowerShell 5.1: no AssemblyLoadContext there, so dependencies are resolved from
        /// <paramref name="libDirectory"/> on demand through AppDomain.AssemblyResolve.
        /// </summary>
        public static Assembly LoadWithResolver(string libDirectory)
        {
            lock (Gate)
            {
                if (_commands is null)
                {
                    string dir = Path.GetFullPath(libDirectory);
                    AppDomain.CurrentDomain.AssemblyResolve += (_, args) => ResolveFrom(dir, args.Name);
                    _commands = Assembly.LoadFrom(Path.Combine(dir, CommandsAssemblyName + ".dll"));
                }

                return _commands;
            }
        }

        /// <summary>The module's format file, loaded by the first CcieDr cmdlet that runs in a runspace.</summary>
        internal static string? FormatFile { get; private set; }

        /// <summary>
        /// Called by CcieDr.psm1 instead of FormatsToProcess: the views load when a cmdlet first runs, so that
        /// Import-Module does not pay for PowerShell rebuilding its whole format table.
        /// </summary>
        public static void DeferFormats(string formatFile) => FormatFile = formatFile;

        /// <summary>The load context name of an assembly (diagnostics and tests).</summary>
        public static string DescribeLoadContext(Assembly assembly)
        {
            if (assembly is null)
            {
                throw new ArgumentNullException(nameof(assembly));
            }

            return DescribeLoadContextCore(assembly);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static string DescribeLoadContextCore(Assembly assembly)
            => System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(assembly)?.ToString() ?? "(none)";

        // Kept in its own method so Windows PowerShell never JITs a reference to AssemblyLoadContext.
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static Assembly LoadIntoPrivateContext(string dir)
        {
            var context = new ModuleLoadContext(dir);
            return context.LoadFromAssemblyPath(Path.Combine(dir, CommandsAssemblyName + ".dll"));
        }

        private static Assembly? ResolveFrom(string dir, string fullName)
        {
            string simpleName = new AssemblyName(fullName).Name ?? string.Empty;
            string candidate = Path.Combine(dir, simpleName + ".dll");
            return File.Exists(candidate) ? Assembly.LoadFrom(candidate) : null;
        }
    }
}
