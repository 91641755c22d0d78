package io.pagewire.dataplane.port.pcap;

/**
 * A file that is not a capture pagewire can replay: not a pcap file, a pcapng file, a link type other than Ethernet,
 * or a record header that does not fit the file (truncated or corrupt). The message names the file, the record and
 * its offset where there is one, the value and the rule. Thrown at open, before any thread starts: a usage error
 * (the command line named the wrong file), not a runtime failure.
 */
public final class PcapFormatException extends IllegalArgumentException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, naming the file.
     */
    public PcapFormatException(final String message)
    {
        super(message);
    }
}
