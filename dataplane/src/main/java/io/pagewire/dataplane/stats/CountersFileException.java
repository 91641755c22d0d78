package io.pagewire.dataplane.stats;

/**
 * A counters file cannot be created, attached or read: it is missing, truncated, still being created, of another
 * version, or not a pagewire counters file. The message names the file and says which, in one line, so a tool can
 * print it as it is.
 */
public final class CountersFileException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message one line naming the file and the problem.
     */
    public CountersFileException(final String message)
    {
        super(message);
    }

    /**
     * @param message one line naming the file and the problem.
     * @param cause   the I/O failure behind it.
     */
    public CountersFileException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
