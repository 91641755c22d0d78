package io.pagewire.dataplane.port.memif;

import org.agrona.concurrent.NanoClock;

/** A clock the test moves by hand, counting how often it is read (the dataplane must read it rarely). */
final class StepClock implements NanoClock
{
    long nowNs = 1_000_000_000_000L;
    int reads;

    @Override
    public long nanoTime()
    {
        reads++;
        return nowNs;
    }

    void advance(final long ns)
    {
        nowNs += ns;
    }
}
