package io.pagewire.dataplane.rx;

import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The virtio-net header the device puts before every received frame, staged off-heap so it can be copied into
 * guest buffers like frame bytes (it may straddle buffers). pagewire offers no receive offloads yet, so everything
 * but {@code num_buffers} is zero: flags 0, GSO_NONE (§5.1.6.4).
 */
final class RxHeader
{
    private final UnsafeBuffer header = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
    private final int length;

    RxHeader(final int length)
    {
        if (length != VirtioNetHeader.LEGACY_LENGTH && length != VirtioNetHeader.MRG_RXBUF_LENGTH)
        {
            throw new IllegalArgumentException("virtio-net header length=" + length + ": must be 10 or 12");
        }
        this.length = length;
        header.setMemory(0, header.capacity(), (byte)0);
    }

    int length()
    {
        return length;
    }

    long address()
    {
        return header.addressOffset();
    }

    /** Sets num_buffers (12-byte header only; §5.1.6.4: 1 when MRG_RXBUF was not negotiated). */
    void numBuffers(final int numBuffers)
    {
        if (length == VirtioNetHeader.MRG_RXBUF_LENGTH)
        {
            header.putShort(VirtioNetHeader.NUM_BUFFERS_OFFSET, (short)numBuffers);
        }
    }
}
