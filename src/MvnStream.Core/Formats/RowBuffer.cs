namespace MvnStream.Core.Formats;

/// <summary>
/// A growable row-major block of rows (<see cref="Rows"/> x <see cref="Dimension"/> doubles) that
/// <see cref="RecordDecoder"/> appends to, so that many small Kafka records can be batched into one block
/// for a rank-k statistics update. The dimension is fixed by the first row appended (or the constructor).
/// </summary>
public sealed class RowBuffer
{
    /// <summary>Creates an empty buffer whose dimension the first decoded record will set.</summary>
    public RowBuffer() : this(0) { }

    /// <summary>Creates an empty buffer of the given dimension (0 = learn it) and initial row capacity.</summary>
    public RowBuffer(int dimension, int initialRowCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dimension);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialRowCapacity);
        Dimension = dimension;
        _initialRowCapacity = initialRowCapacity;
        Values = dimension == 0 ? [] : new double[checked(dimension * initialRowCapacity)];
    }

    private readonly int _initialRowCapacity;

    /// <summary>d, values per row; 0 until known.</summary>
    public int Dimension { get; private set; }

    /// <summary>Rows held.</summary>
    public int Rows { get; private set; }

    /// <summary>The storage; the first <c>Rows * Dimension</c> elements are the rows, row-major.</summary>
    public double[] Values { get; private set; }

    /// <summary>The rows held, row-major.</summary>
    public Span<double> AsSpan() => Values.AsSpan(0, Rows * Dimension);

    /// <summary>Row <paramref name="index"/> (0-based).</summary>
    public Span<double> Row(int index)
    {
        if ((uint)index >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(index), index, $"the buffer holds {Rows} rows");
        return Values.AsSpan(index * Dimension, Dimension);
    }

    /// <summary>Appends <paramref name="count"/> rows and returns their storage to fill.</summary>
    /// <exception cref="InvalidOperationException">The dimension is not known yet.</exception>
    public Span<double> AppendRows(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (Dimension == 0) throw new InvalidOperationException("the buffer's dimension is not known yet");
        int needed = checked((Rows + count) * Dimension);
        if (needed > Values.Length)
        {
            int capacity = Math.Max(needed, Math.Max(Values.Length * 2, _initialRowCapacity * Dimension));
            var grown = new double[capacity];
            AsSpan().CopyTo(grown);
            Values = grown;
        }
        var span = Values.AsSpan(Rows * Dimension, count * Dimension);
        Rows += count;
        return span;
    }

    /// <summary>Keeps only the first <paramref name="rows"/> rows.</summary>
    public void Truncate(int rows)
    {
        if ((uint)rows > (uint)Rows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"the buffer holds {Rows} rows");
        Rows = rows;
    }

    /// <summary>Removes all rows; the dimension stays.</summary>
    public void Clear() => Rows = 0;

    /// <summary>Removes all rows and sets a new dimension (0 = learn it from the next record).</summary>
    public void Reset(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dimension);
        Rows = 0;
        if (dimension != Dimension)
        {
            Dimension = dimension;
            Values = dimension == 0 ? [] : new double[checked(dimension * _initialRowCapacity)];
        }
    }

    /// <summary>Sets the dimension of an empty buffer whose dimension was unknown.</summary>
    internal void LearnDimension(int dimension)
    {
        if (Rows != 0 && dimension != Dimension) throw new InvalidOperationException("the buffer already holds rows of another dimension");
        Reset(dimension);
    }
}
