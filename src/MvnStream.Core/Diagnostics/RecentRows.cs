namespace MvnStream.Core.Diagnostics;

/// <summary>
/// A small bounded ring of recent rows read in this process (a sample: at most <see cref="PerBatch"/> rows of each batch a
/// stream worker turns into a contribution), for the dashboard's scatter plot. Only workers in the same process as the
/// coordinator (the embedded cluster of 'stream' and 'demo') fill the coordinator's ring;
/// docs/ARCHITECTURE.md, "HTTP, metrics and dashboard".
/// </summary>
public static class RecentRows
{
    public const int Capacity = 2000;
    public const int PerBatch = 32;

    private static readonly object Gate = new();
    private static double[] _ring = [];
    private static int _dimension;
    private static int _next;
    private static int _count;

    /// <summary>Keeps up to <see cref="PerBatch"/> rows, evenly spaced, of a batch of <paramref name="rows"/> rows of width <paramref name="d"/>.</summary>
    public static void Offer(ReadOnlySpan<double> values, int rows, int d)
    {
        if (rows <= 0 || d <= 0 || values.Length < rows * d) return;
        int step = Math.Max(1, rows / PerBatch);
        lock (Gate)
        {
            if (d != _dimension)
            {
                _dimension = d;
                _ring = new double[Capacity * d];
                _next = _count = 0;
            }
            for (int r = 0; r < rows; r += step)
            {
                values.Slice(r * d, d).CopyTo(_ring.AsSpan(_next * d, d));
                _next = (_next + 1) % Capacity;
                _count = Math.Min(Capacity, _count + 1);
            }
        }
    }

    /// <summary>Columns <paramref name="i"/> and <paramref name="j"/> of the rows held, oldest first.</summary>
    public static (double X, double Y)[] Columns(int i, int j)
    {
        lock (Gate)
        {
            if (i < 0 || j < 0 || i >= _dimension || j >= _dimension) return [];
            var result = new (double, double)[_count];
            int start = (_next - _count + Capacity) % Capacity;
            for (int k = 0; k < _count; k++)
            {
                int r = (start + k) % Capacity;
                result[k] = (_ring[r * _dimension + i], _ring[r * _dimension + j]);
            }
            return result;
        }
    }

    public static int Dimension
    {
        get { lock (Gate) return _dimension; }
    }
}
