package io.pagewire.dataplane.port;

/**
 * The configured NIC port cannot be opened: no such interface, no permission, a file that is not a capture, a socket
 * path in use. The message names the key and value at fault ({@code nic.af_packet.interface="eth9": no such
 * interface}); {@code pagewire run} reports it as a configuration error (exit code 2) before anything starts.
 */
public final class NicPortException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, naming the key and value.
     */
    public NicPortException(final String message)
    {
        super(message);
    }

    /**
     * @param message what is wrong, naming the key and value.
     * @param cause   the underlying error.
     */
    public NicPortException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
