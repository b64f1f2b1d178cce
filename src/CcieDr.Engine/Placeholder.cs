namespace CcieDr.Engine { internal static class Placeholder { } }
