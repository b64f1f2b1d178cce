namespace CcieDr.Commands { internal static class Placeholder { } }
