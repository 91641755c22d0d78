package io.pagewire.config;

/**
 * The guest's virtqueues, table {@code [virtqueue]}. RX and TX are the guest's queues (RX = the guest receives).
 *
 * @param rxSize {@code virtqueue.rx.size}: entries in the RX virtqueue, a power of two in 2..32768.
 * @param txSize {@code virtqueue.tx.size}: entries in the TX virtqueue, a power of two in 2..32768.
 */
public record VirtqueueConfig(int rxSize, int txSize)
{
}
