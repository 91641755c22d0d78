package io.pagewire.dataplane.guest;

/**
 * What a virtio driver sees of a device's transport (the common configuration of virtio 1.2 §4.1.4.3, or what
 * vhost-user carries): feature words, the status field and queue setup. The embedded guest model drives the device
 * through it, exactly as a vhost-user frontend's requests do, so both go through the same control code.
 */
public interface VirtioTransport
{
    /** @return the features the device offers. */
    long deviceFeatures();

    /** Writes the features the driver accepts. */
    void driverFeatures(long features);

    /** @return the device status field. */
    int status();

    /** Writes the device status field (0 resets the device). */
    void status(int status);

    /** @return the largest queue size the device supports. */
    int maxQueueSize();

    /**
     * Sets up one virtqueue (before DRIVER_OK).
     *
     * @param index     virtio queue index: 2n = receiveq n, 2n+1 = transmitq n.
     * @param size      queue size.
     * @param descTable guest-physical address of the descriptor table.
     * @param availRing guest-physical address of the available ring.
     * @param usedRing  guest-physical address of the used ring.
     */
    void queue(int index, int size, long descTable, long availRing, long usedRing);
}
