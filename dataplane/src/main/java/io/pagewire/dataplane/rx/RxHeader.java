package io.pagewire.dataplane.rx;

import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The virtio-net header the device puts before every received frame, staged off-heap so it can be copied into
 * guest buffers like frame bytes (it may straddle buffers). For a plain frame everything but {@code num_buffers} is
 * zero: flags 0, GSO_NONE (§5.1.6.4); a frame the NIC port passes with an offload brings its own 10 bytes
 * ({@link #vnetHeader}). The zeros are written back only after such a frame, so plain frames cost one branch.
 */
final class RxHeader
{
    private final UnsafeBuffer header = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
    private final int length;
    private boolean offload;

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

    /**
     * Sets the header's flags .. csum_offset (virtio 1.2 §5.1.6).
     *
     * @param source host address of the 10 bytes to copy, or 0 for zeros.
     */
    void vnetHeader(final long source)
    {
        if (source != 0)
        {
            // flags .. csum_start as one long, csum_offset as a short: the legacy header's 10 bytes.
            header.putLong(VirtioNetHeader.FLAGS_OFFSET, UnsafeApi.getLong(source));
            header.putShort(VirtioNetHeader.CSUM_OFFSET_OFFSET,
                UnsafeApi.getShort(source + VirtioNetHeader.CSUM_OFFSET_OFFSET));
            offload = true;
        }
        else if (offload)
        {
            header.putLong(VirtioNetHeader.FLAGS_OFFSET, 0);
            header.putShort(VirtioNetHeader.CSUM_OFFSET_OFFSET, (short)0);
            offload = false;
        }
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
