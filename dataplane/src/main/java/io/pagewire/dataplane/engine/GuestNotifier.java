package io.pagewire.dataplane.engine;

/**
 * Tells a guest that used buffers are waiting (vhost-user: write the queue's call eventfd). Called by the dataplane
 * at most once per queue per duty cycle, only when the driver asked for it (§2.7.10), so it must not block.
 */
@FunctionalInterface
public interface GuestNotifier
{
    /** A notifier for guests that poll (the embedded guest model). */
    GuestNotifier POLLING = queueIndex -> {};

    /**
     * @param queueIndex virtio queue index (2n = receiveq n, 2n+1 = transmitq n).
     */
    void notifyUsed(int queueIndex);
}
