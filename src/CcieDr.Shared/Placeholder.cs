namespace CcieDr { internal static class Placeholder { } }
