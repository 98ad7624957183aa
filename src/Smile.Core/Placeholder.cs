namespace Smile; public static class Placeholder {}
