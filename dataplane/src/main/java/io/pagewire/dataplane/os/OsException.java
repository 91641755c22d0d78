package io.pagewire.dataplane.os;

/**
 * An OS call failed. The message names the call (with its argument when that helps, such as a socket path), the errno
 * number and its symbolic name when known, in one line: {@code connect(/tmp/x.sock): errno 111 (ECONNREFUSED)}.
 * <p>
 * An errno of 0 means no system call failed but the OS-level exchange is still unusable, for example control data
 * truncated by the kernel ({@code MSG_CTRUNC}) or a peer that hung up in the middle of a message; the message then
 * says what happened in words.
 */
public final class OsException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /** errno values of Linux x86_64 (asm-generic/errno-base.h, asm-generic/errno.h), indexed by number. */
    private static final String[] NAMES = new String[134];

    static
    {
        final String[] base = {
            null, "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
            "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR",
            "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS",
            "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP"};
        System.arraycopy(base, 0, NAMES, 0, base.length);
        NAMES[42] = "ENOMSG";
        NAMES[61] = "ENODATA";
        NAMES[62] = "ETIME";
        NAMES[71] = "EPROTO";
        NAMES[74] = "EBADMSG";
        NAMES[75] = "EOVERFLOW";
        final String[] net = {
            "EUSERS", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT",
            "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL",
            "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN",
            "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY",
            "EINPROGRESS", "ESTALE"};
        System.arraycopy(net, 0, NAMES, 87, net.length);
        NAMES[122] = "EDQUOT";
        NAMES[125] = "ECANCELED";
    }

    private final int errno;

    /**
     * @param call  the call and, where useful, its argument: {@code "connect(/tmp/x.sock)"}.
     * @param errno the errno it failed with; 0 when no system call failed (then {@code call} says what happened).
     */
    public OsException(final String call, final int errno)
    {
        this(call, errno, null);
    }

    /**
     * @param call   the call and, where useful, its argument.
     * @param errno  the errno it failed with, or 0.
     * @param detail what that means here, appended after the errno; may be null.
     */
    public OsException(final String call, final int errno, final String detail)
    {
        super(message(call, errno, detail));
        this.errno = errno;
    }

    /**
     * @return the errno the call failed with, 0 when the failure is not an errno (see the class comment).
     */
    public int errno()
    {
        return errno;
    }

    /**
     * @param errno an errno value.
     * @return its symbolic name on Linux x86_64, such as {@code "ECONNREFUSED"}, or null when not in the table.
     */
    public static String errnoName(final int errno)
    {
        return errno > 0 && errno < NAMES.length ? NAMES[errno] : null;
    }

    private static String message(final String call, final int errno, final String detail)
    {
        final StringBuilder sb = new StringBuilder(call);
        if (errno != 0)
        {
            sb.append(": errno ").append(errno);
            final String name = errnoName(errno);
            if (name != null)
            {
                sb.append(" (").append(name).append(')');
            }
        }
        if (detail != null)
        {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }
}
