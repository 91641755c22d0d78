package io.pagewire.dataplane.port;

/**
 * One NIC port kind as a forwarder runs it ({@code nic.type}): a {@link NicPort} per queue pair for the dataplane
 * threads, and housekeeping for the control thread (a control socket, reconnects, kernel statistics). Built before any
 * thread starts, closed after the dataplane threads stopped.
 * <p>
 * Threading: {@link #port(int)}'s ports are polled by dataplane threads only; {@link #poll()}, {@link #describe()} and
 * {@link #close()} are called by the control thread only. A port whose peer comes and goes (memif) must stay safe for
 * the dataplane at every instant: while disconnected it receives nothing and drops what it is given to transmit
 * (counted), and it never unmaps memory a dataplane thread may still be reading.
 * <p>
 * Counters: see {@link #FIRST_COUNTER_TYPE_ID}.
 */
public interface NicPortSet extends AutoCloseable
{
    /**
     * Type ids 300..399 of the counters file are the ports' own (memif 300-319, AF_PACKET 320-339, pcap 340-359),
     * registered by the port with a label that names it ({@code nic.memif.disconnects}); {@code pagewire stat} lists
     * them and the run summary reports them under {@code nic.counters}.
     */
    int FIRST_COUNTER_TYPE_ID = 300;

    /** The last type id reserved for port counters. */
    int LAST_COUNTER_TYPE_ID = 399;

    /** @return queue pairs served (one port each). */
    int pairs();

    /** @return the port of queue pair {@code pair}. */
    NicPort port(int pair);

    /** Control-thread housekeeping; never blocks. By default nothing. */
    default void poll()
    {
    }

    /**
     * The run is ending (control thread, dataplane still running): take in nothing new from now on, so what is in
     * flight can drain and the end-of-run counts add up. A replayed capture stops replaying; a port fed by a live
     * peer may do nothing. By default nothing.
     */
    default void stopReceiving()
    {
    }

    /** @return what the ports are attached to, for the start message (e.g. {@code memif server /tmp/x.sock id 0}). */
    String describe();

    /** Releases every resource (mappings, sockets, files); the dataplane threads have stopped. */
    @Override
    void close();
}
