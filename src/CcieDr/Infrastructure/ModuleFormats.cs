using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using CcieDr.Loading;

namespace CcieDr.Commands
{
    /// <summary>
    /// Loads CcieDr.format.ps1xml into a runspace the first time one of our cmdlets runs there, instead of at
    /// Import-Module (FormatsToProcess): adding any format file makes PowerShell rebuild its whole format table,
    /// built-in views included, which was the largest part of the module's start-up cost. Only our cmdlets
    /// create our output types, so the views are in place before the first object needs one.
    /// </summary>
    internal static class ModuleFormats
    {
        private static readonly ConditionalWeakTable<Runspace, object> Loaded = new ConditionalWeakTable<Runspace, object>();

        // Update-FormatData by its class, so the call does not auto-load Microsoft.PowerShell.Utility.
        private const string UpdateFormatDataType =
            "Microsoft.PowerShell.Commands.UpdateFormatDataCommand, Microsoft.PowerShell.Commands.Utility";

        public static void EnsureLoaded(PSCmdlet cmdlet)
        {
            string? file = ModuleLoader.FormatFile;
            Runspace? runspace = Runspace.DefaultRunspace;
            if (file is null || runspace is null || Loaded.TryGetValue(runspace, out _))
            {
                return;
            }

            // -WhatIf:$false: a session-wide $WhatIfPreference must not skip the views (nor print "What if").
            Loaded.Add(runspace, file);
            Type? type = Type.GetType(UpdateFormatDataType, throwOnError: false);
            object command = type is null ? "Update-FormatData" : new CmdletInfo("Update-FormatData", type);
            cmdlet.InvokeCommand.InvokeScript(
                false, ScriptBlock.Create("& $args[0] -PrependPath $args[1] -WhatIf:$false -Confirm:$false"), null, command, file);
        }
    }
}
