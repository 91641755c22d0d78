package io.pagewire.dataplane.engine;

/**
 * Tells a guest that used buffers are waiting (vhost-user: write the queue's call eventfd). Called by the dataplane
 * at most once per queue per duty cycle, only when the driver asked for it (§2.7.10), so it must not block.
 * <p>
 * The call fd is the frontend's as much as ours: it may have cleared O_NONBLOCK on it and filled its counter. An
 * implementation makes one write attempt and counts a notification it could not write (full counter, or a write
 * that slept and was interrupted: {@code EventFd#signal()}); it never retries or waits.
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
