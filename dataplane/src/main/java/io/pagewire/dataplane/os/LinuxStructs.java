package io.pagewire.dataplane.os;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The Linux x86_64 (LP64, glibc) structs the OS layer passes to the kernel, as layouts and byte offsets. Pointer
 * fields are written as raw {@code long} addresses at these offsets, which is what they are on x86_64.
 *
 * <pre>
 * struct iovec (16)                   struct msghdr (56)
 *   0  void  *iov_base                  0  void         *msg_name
 *   8  size_t iov_len                   8  socklen_t     msg_namelen  (+4 pad)
 *                                      16  struct iovec *msg_iov
 * struct cmsghdr (16, then data)       24  size_t        msg_iovlen
 *   0  size_t cmsg_len  = CMSG_LEN(n)  32  void         *msg_control
 *   8  int    cmsg_level = SOL_SOCKET  40  size_t        msg_controllen
 *  12  int    cmsg_type  = SCM_RIGHTS  48  int           msg_flags    (+4 pad)
 *  16  int    fds[n]  (CMSG_DATA)
 *                                     struct pollfd (8)
 * struct sockaddr_un (110)              0  int   fd
 *   0  sa_family_t sun_family (u16)     4  short events
 *   2  char        sun_path[108]        6  short revents
 *
 * struct stat (144): st_size (off_t) at 48
 * </pre>
 * {@code cmsg_len} is {@code CMSG_LEN} (header + data, unpadded); the buffer a control message occupies, and what
 * {@code msg_controllen} counts, is {@code CMSG_SPACE} (both padded to 8).
 */
final class LinuxStructs
{
    static final StructLayout IOVEC = MemoryLayout.structLayout(
        ADDRESS.withName("iov_base"),
        JAVA_LONG.withName("iov_len"));

    static final StructLayout MSGHDR = MemoryLayout.structLayout(
        ADDRESS.withName("msg_name"),
        JAVA_INT.withName("msg_namelen"),
        MemoryLayout.paddingLayout(4),
        ADDRESS.withName("msg_iov"),
        JAVA_LONG.withName("msg_iovlen"),
        ADDRESS.withName("msg_control"),
        JAVA_LONG.withName("msg_controllen"),
        JAVA_INT.withName("msg_flags"),
        MemoryLayout.paddingLayout(4));

    static final StructLayout CMSGHDR = MemoryLayout.structLayout(
        JAVA_LONG.withName("cmsg_len"),
        JAVA_INT.withName("cmsg_level"),
        JAVA_INT.withName("cmsg_type"));

    static final int SUN_PATH_LENGTH = 108;

    static final StructLayout SOCKADDR_UN = MemoryLayout.structLayout(
        JAVA_SHORT.withName("sun_family"),
        MemoryLayout.sequenceLayout(SUN_PATH_LENGTH, JAVA_BYTE).withName("sun_path"));

    static final StructLayout POLLFD = MemoryLayout.structLayout(
        JAVA_INT.withName("fd"),
        JAVA_SHORT.withName("events"),
        JAVA_SHORT.withName("revents"));

    static final long IOV_BASE = IOVEC.byteOffset(groupElement("iov_base"));
    static final long IOV_LEN = IOVEC.byteOffset(groupElement("iov_len"));

    static final long MSG_NAME = MSGHDR.byteOffset(groupElement("msg_name"));
    static final long MSG_NAMELEN = MSGHDR.byteOffset(groupElement("msg_namelen"));
    static final long MSG_IOV = MSGHDR.byteOffset(groupElement("msg_iov"));
    static final long MSG_IOVLEN = MSGHDR.byteOffset(groupElement("msg_iovlen"));
    static final long MSG_CONTROL = MSGHDR.byteOffset(groupElement("msg_control"));
    static final long MSG_CONTROLLEN = MSGHDR.byteOffset(groupElement("msg_controllen"));
    static final long MSG_FLAGS = MSGHDR.byteOffset(groupElement("msg_flags"));

    static final long CMSG_LEN_OFFSET = CMSGHDR.byteOffset(groupElement("cmsg_len"));
    static final long CMSG_LEVEL = CMSGHDR.byteOffset(groupElement("cmsg_level"));
    static final long CMSG_TYPE = CMSGHDR.byteOffset(groupElement("cmsg_type"));
    static final long CMSG_DATA = CMSGHDR.byteSize();

    static final long SUN_FAMILY = SOCKADDR_UN.byteOffset(groupElement("sun_family"));
    static final long SUN_PATH = SOCKADDR_UN.byteOffset(groupElement("sun_path"));

    static final long POLLFD_FD = POLLFD.byteOffset(groupElement("fd"));
    static final long POLLFD_EVENTS = POLLFD.byteOffset(groupElement("events"));
    static final long POLLFD_REVENTS = POLLFD.byteOffset(groupElement("revents"));

    static final long STAT_SIZE = 144;
    static final long STAT_ST_SIZE = 48;
    static final long STAT_ST_MODE = 24;

    private LinuxStructs()
    {
    }

    /**
     * @param dataLength bytes of control data (4 per fd).
     * @return {@code CMSG_LEN(dataLength)}: the value of {@code cmsg_len}.
     */
    static long cmsgLen(final long dataLength)
    {
        return CMSG_DATA + dataLength;
    }

    /**
     * @param dataLength bytes of control data (4 per fd).
     * @return {@code CMSG_SPACE(dataLength)}: the bytes the message occupies in a control buffer.
     */
    static long cmsgSpace(final long dataLength)
    {
        return CMSG_DATA + cmsgAlign(dataLength);
    }

    /**
     * @param length a control message length.
     * @return {@code CMSG_ALIGN(length)}: rounded up to the size of {@code size_t}.
     */
    static long cmsgAlign(final long length)
    {
        return (length + 7) & ~7L;
    }
}
