package io.pagewire.control.vhostuser;

/**
 * The frontend's requests pagewire knows (QEMU docs/interop/vhost-user.rst, "Front-end message types"), with the
 * payload size and fd count each must carry. A request not listed here is unknown and closes the connection.
 */
public enum VhostUserRequest
{
    GET_FEATURES(1, 0, 0),
    SET_FEATURES(2, VhostUserProtocol.U64_SIZE, 0),
    SET_OWNER(3, 0, 0),
    RESET_OWNER(4, 0, 0),
    /** Payload length depends on nregions; fds = nregions. */
    SET_MEM_TABLE(5, -1, -1),
    SET_LOG_BASE(6, -1, -1),
    SET_LOG_FD(7, -1, -1),
    SET_VRING_NUM(8, VhostUserProtocol.VRING_STATE_SIZE, 0),
    SET_VRING_ADDR(9, VhostUserProtocol.VRING_ADDR_SIZE, 0),
    SET_VRING_BASE(10, VhostUserProtocol.VRING_STATE_SIZE, 0),
    GET_VRING_BASE(11, VhostUserProtocol.VRING_STATE_SIZE, 0),
    /** One fd unless the NOFD bit is set. */
    SET_VRING_KICK(12, VhostUserProtocol.U64_SIZE, -1),
    SET_VRING_CALL(13, VhostUserProtocol.U64_SIZE, -1),
    SET_VRING_ERR(14, VhostUserProtocol.U64_SIZE, -1),
    GET_PROTOCOL_FEATURES(15, 0, 0),
    SET_PROTOCOL_FEATURES(16, VhostUserProtocol.U64_SIZE, 0),
    GET_QUEUE_NUM(17, 0, 0),
    SET_VRING_ENABLE(18, VhostUserProtocol.VRING_STATE_SIZE, 0),
    SEND_RARP(19, -1, 0),
    NET_SET_MTU(20, -1, 0),
    GET_CONFIG(24, -1, 0),
    RESET_DEVICE(34, 0, 0),
    SET_STATUS(39, VhostUserProtocol.U64_SIZE, 0),
    GET_STATUS(40, 0, 0);

    private static final VhostUserRequest[] BY_CODE = new VhostUserRequest[64];

    static
    {
        for (final VhostUserRequest request : values())
        {
            BY_CODE[request.code] = request;
        }
    }

    private final int code;
    private final int payloadSize;
    private final int fdCount;

    VhostUserRequest(final int code, final int payloadSize, final int fdCount)
    {
        this.code = code;
        this.payloadSize = payloadSize;
        this.fdCount = fdCount;
    }

    /** @return the wire code. */
    public int code()
    {
        return code;
    }

    /** @return the exact payload size, or -1 when it varies. */
    public int payloadSize()
    {
        return payloadSize;
    }

    /** @return the exact number of fds, or -1 when it varies. */
    public int fdCount()
    {
        return fdCount;
    }

    /** @return the request with this code, or null if unknown. */
    public static VhostUserRequest of(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
