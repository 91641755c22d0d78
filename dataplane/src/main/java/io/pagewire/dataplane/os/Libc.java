package io.pagewire.dataplane.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * glibc downcalls for the OS layer, created once, each capturing errno into a call-state segment the caller passes
 * first ({@link Linker.Option#captureCallState}); {@link #errno} reads it back. Hot paths ({@link EventFd#signal},
 * socket send/receive) pass a call-state segment preallocated per object so a call allocates nothing; cold paths
 * allocate one with {@link #callState}.
 * <p>
 * Struct layouts are those of Linux x86_64 ({@link LinuxStructs}); on any other platform this class fails to
 * initialise with a message saying so, rather than pass the kernel wrongly shaped structs.
 */
final class Libc
{
    static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    static final int EINTR = 4;
    static final int EBADF = 9;
    static final int EAGAIN = 11;
    static final int EINVAL = 22;
    static final int EADDRINUSE = 98;
    static final int ECONNABORTED = 103;
    static final int EISCONN = 106;
    static final int ENOTCONN = 107;
    static final int EALREADY = 114;
    static final int ENOENT = 2;
    static final int EPERM = 1;
    static final int ENODEV = 19;
    static final int ENXIO = 6;
    static final int ENOBUFS = 105;
    static final int ENETDOWN = 100;

    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOCK_SEQPACKET = 5;
    static final int SOCK_NONBLOCK = 0x800;
    static final int MSG_DONTWAIT = 0x40;
    static final int MSG_TRUNC = 0x20;
    static final int ECONNREFUSED = 111;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int SHUT_RDWR = 2;

    static final short POLLIN = 0x1;
    static final short POLLOUT = 0x4;
    static final short POLLERR = 0x8;
    static final short POLLHUP = 0x10;
    static final short POLLNVAL = 0x20;

    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x1;
    static final long MAP_FAILED = -1L;

    static final int MFD_CLOEXEC = 0x1;
    static final int MFD_ALLOW_SEALING = 0x2;
    static final int F_ADD_SEALS = 1033;
    static final int F_GET_SEALS = 1034;
    static final int F_SEAL_SHRINK = 0x2;
    static final int MAP_PRIVATE = 0x2;
    static final int MAP_FIXED = 0x10;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    static final int S_IFMT = 0170000;
    static final int S_IFREG = 0100000;
    static final int EFD_NONBLOCK = 0x800;
    static final int EFD_CLOEXEC = 0x80000;
    static final int F_GETFL = 3;
    static final int F_SETFL = 4;
    static final int O_NONBLOCK = 0x800;
    private static final int SC_PAGESIZE = 30;

    private static final MethodHandle CLOSE;
    private static final MethodHandle FSTAT;
    private static final MethodHandle MEMFD_CREATE;
    private static final MethodHandle FTRUNCATE;
    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle EVENTFD;
    private static final MethodHandle READ;
    private static final MethodHandle WRITE;
    private static final MethodHandle FCNTL_GET;
    private static final MethodHandle FCNTL_SET;
    private static final MethodHandle SOCKET;
    private static final MethodHandle BIND;
    private static final MethodHandle LISTEN;
    private static final MethodHandle ACCEPT4;
    private static final MethodHandle CONNECT;
    private static final MethodHandle SENDMSG;
    private static final MethodHandle RECVMSG;
    private static final MethodHandle POLL;
    private static final MethodHandle SHUTDOWN;
    private static final MethodHandle UNLINK;
    private static final MethodHandle SYSCONF;
    private static final MethodHandle SETSOCKOPT;
    private static final MethodHandle GETSOCKOPT;
    private static final MethodHandle IF_NAMETOINDEX;
    private static final MethodHandle SENDTO;
    private static final MethodHandle IOCTL;

    static final long PAGE_SIZE;

    static
    {
        final String os = System.getProperty("os.name");
        final String arch = System.getProperty("os.arch");
        if (!"Linux".equals(os) || !("amd64".equals(arch) || "x86_64".equals(arch)))
        {
            throw new UnsupportedOperationException(
                "pagewire's OS layer supports Linux x86_64 only (struct layouts), not " + os + " " + arch);
        }
        CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        FSTAT = downcall("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        MEMFD_CREATE = downcall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        FTRUNCATE = downcall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
        MMAP = downcall("mmap", FunctionDescriptor.of(
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
        MUNMAP = downcall("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        EVENTFD = downcall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        READ = downcall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
        WRITE = downcall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
        FCNTL_GET = downcall("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        FCNTL_SET = downcall("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
        SOCKET = downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        BIND = downcall("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        LISTEN = downcall("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        ACCEPT4 = downcall("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
        CONNECT = downcall("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        SENDMSG = downcall("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
        RECVMSG = downcall("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
        POLL = downcall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        SHUTDOWN = downcall("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        UNLINK = downcall("unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        SYSCONF = downcall("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
        SETSOCKOPT = downcall("setsockopt", FunctionDescriptor.of(
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        GETSOCKOPT = downcall("getsockopt", FunctionDescriptor.of(
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        IF_NAMETOINDEX = downcall("if_nametoindex", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        SENDTO = downcall("sendto", FunctionDescriptor.of(
            JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
        IOCTL = downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
            Linker.Option.firstVariadicArg(2));
        try (Arena arena = Arena.ofConfined())
        {
            PAGE_SIZE = sysconf(arena.allocate(CALL_STATE), SC_PAGESIZE);
        }
    }

    private Libc()
    {
    }

    @SuppressWarnings("restricted") // the one place the OS layer links native code; the JVM runs with native access
    private static MethodHandle downcall(final String name, final FunctionDescriptor descriptor,
        final Linker.Option... extra)
    {
        final Linker linker = Linker.nativeLinker();
        final Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, options, 1, extra.length);
        final MemorySegment address = linker.defaultLookup().find(name)
            .orElseThrow(() -> new UnsupportedOperationException("libc has no " + name));
        return linker.downcallHandle(address, descriptor, options);
    }

    /**
     * @param arena where to allocate.
     * @return a segment to pass as the first argument of any call here.
     */
    static MemorySegment callState(final Arena arena)
    {
        return arena.allocate(CALL_STATE);
    }

    /**
     * @param state the call-state segment of the call that just failed.
     * @return the errno it captured.
     */
    static int errno(final MemorySegment state)
    {
        return (int)ERRNO.get(state, 0L);
    }

    /**
     * @return the error to throw for a downcall that threw, which only a bug here (wrong thread, closed arena) causes.
     */
    private static RuntimeException rethrow(final Throwable t)
    {
        if (t instanceof RuntimeException e)
        {
            return e;
        }
        if (t instanceof Error e)
        {
            throw e;
        }
        return new IllegalStateException(t);
    }

    static int close(final MemorySegment state, final int fd)
    {
        try
        {
            return (int)CLOSE.invokeExact(state, fd);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int fstat(final MemorySegment state, final int fd, final MemorySegment stat)
    {
        try
        {
            return (int)FSTAT.invokeExact(state, fd, stat);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int memfdCreate(final MemorySegment state, final MemorySegment name, final int flags)
    {
        try
        {
            return (int)MEMFD_CREATE.invokeExact(state, name, flags);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int ftruncate(final MemorySegment state, final int fd, final long length)
    {
        try
        {
            return (int)FTRUNCATE.invokeExact(state, fd, length);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static long mmap(final MemorySegment state, final long length, final int prot, final int flags, final int fd,
        final long offset)
    {
        try
        {
            return (long)MMAP.invokeExact(state, 0L, length, prot, flags, fd, offset);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static long mmapAt(final MemorySegment state, final long address, final long length, final int prot,
        final int flags, final int fd, final long offset)
    {
        try
        {
            return (long)MMAP.invokeExact(state, address, length, prot, flags, fd, offset);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int munmap(final MemorySegment state, final long address, final long length)
    {
        try
        {
            return (int)MUNMAP.invokeExact(state, address, length);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int eventfd(final MemorySegment state, final int initval, final int flags)
    {
        try
        {
            return (int)EVENTFD.invokeExact(state, initval, flags);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static long read(final MemorySegment state, final int fd, final MemorySegment buffer, final long count)
    {
        try
        {
            return (long)READ.invokeExact(state, fd, buffer, count);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static long write(final MemorySegment state, final int fd, final MemorySegment buffer, final long count)
    {
        try
        {
            return (long)WRITE.invokeExact(state, fd, buffer, count);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int fcntlGetFlags(final MemorySegment state, final int fd)
    {
        try
        {
            return (int)FCNTL_GET.invokeExact(state, fd, F_GETFL);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int fcntl(final MemorySegment state, final int fd, final int command)
    {
        try
        {
            return (int)FCNTL_GET.invokeExact(state, fd, command);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int fcntl(final MemorySegment state, final int fd, final int command, final int argument)
    {
        try
        {
            return (int)FCNTL_SET.invokeExact(state, fd, command, argument);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int fcntlSetFlags(final MemorySegment state, final int fd, final int flags)
    {
        try
        {
            return (int)FCNTL_SET.invokeExact(state, fd, F_SETFL, flags);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int socket(final MemorySegment state, final int domain, final int type, final int protocol)
    {
        try
        {
            return (int)SOCKET.invokeExact(state, domain, type, protocol);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int bind(final MemorySegment state, final int fd, final MemorySegment address, final int length)
    {
        try
        {
            return (int)BIND.invokeExact(state, fd, address, length);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int listen(final MemorySegment state, final int fd, final int backlog)
    {
        try
        {
            return (int)LISTEN.invokeExact(state, fd, backlog);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /** accept4 with no peer address wanted (NULL, NULL). */
    static int accept4(final MemorySegment state, final int fd, final int flags)
    {
        try
        {
            return (int)ACCEPT4.invokeExact(state, fd, 0L, 0L, flags);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int connect(final MemorySegment state, final int fd, final MemorySegment address, final int length)
    {
        try
        {
            return (int)CONNECT.invokeExact(state, fd, address, length);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static long sendmsg(final MemorySegment state, final int fd, final MemorySegment msghdr, final int flags)
    {
        try
        {
            return (long)SENDMSG.invokeExact(state, fd, msghdr, flags);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static long recvmsg(final MemorySegment state, final int fd, final MemorySegment msghdr, final int flags)
    {
        try
        {
            return (long)RECVMSG.invokeExact(state, fd, msghdr, flags);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int poll(final MemorySegment state, final MemorySegment pollfds, final long count, final int timeoutMs)
    {
        try
        {
            return (int)POLL.invokeExact(state, pollfds, count, timeoutMs);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int shutdown(final MemorySegment state, final int fd, final int how)
    {
        try
        {
            return (int)SHUTDOWN.invokeExact(state, fd, how);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int unlink(final MemorySegment state, final MemorySegment path)
    {
        try
        {
            return (int)UNLINK.invokeExact(state, path);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static long sysconf(final MemorySegment state, final int name)
    {
        try
        {
            return (long)SYSCONF.invokeExact(state, name);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    static int setsockopt(final MemorySegment state, final int fd, final int level, final int name,
        final MemorySegment value, final int length)
    {
        try
        {
            return (int)SETSOCKOPT.invokeExact(state, fd, level, name, value, length);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /** getsockopt; {@code length} is a socklen_t in and out. */
    static int getsockopt(final MemorySegment state, final int fd, final int level, final int name,
        final MemorySegment value, final MemorySegment length)
    {
        try
        {
            return (int)GETSOCKOPT.invokeExact(state, fd, level, name, value, length);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /** @return the interface index, 0 (errno set) when there is no such interface. */
    static int ifNameToIndex(final MemorySegment state, final MemorySegment name)
    {
        try
        {
            return (int)IF_NAMETOINDEX.invokeExact(state, name);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /** sendto with raw buffer and address pointers (0 for NULL), as the AF_PACKET TX ring kick needs. */
    static long sendto(final MemorySegment state, final int fd, final long buffer, final long length, final int flags,
        final long address, final int addressLength)
    {
        try
        {
            return (long)SENDTO.invokeExact(state, fd, buffer, length, flags, address, addressLength);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /** ioctl with a pointer argument (struct ifreq and the like). */
    static int ioctl(final MemorySegment state, final int fd, final long request, final MemorySegment argument)
    {
        try
        {
            return (int)IOCTL.invokeExact(state, fd, request, argument);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }
}
