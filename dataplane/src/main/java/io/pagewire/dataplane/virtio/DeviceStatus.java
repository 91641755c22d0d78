package io.pagewire.dataplane.virtio;

/** Device status field bits (virtio 1.2 §2.1). */
public final class DeviceStatus
{
    /** The guest has noticed the device. */
    public static final int ACKNOWLEDGE = 1;
    /** The guest knows how to drive the device. */
    public static final int DRIVER = 2;
    /** The driver is set up and ready to drive the device. */
    public static final int DRIVER_OK = 4;
    /** The driver has acknowledged the features it understands; feature negotiation is complete. */
    public static final int FEATURES_OK = 8;
    /** The device has hit an error from which it cannot recover until reset (§2.1.2). */
    public static final int DEVICE_NEEDS_RESET = 64;
    /** Something went wrong in the guest; it has given up on the device. */
    public static final int FAILED = 128;

    private DeviceStatus()
    {
    }

    /** @return the set bits by name, e.g. {@code ACKNOWLEDGE|DRIVER|FEATURES_OK}, or {@code 0}. */
    public static String describe(final int status)
    {
        final StringBuilder names = new StringBuilder();
        final String[] labels = {"ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK", "", "", "DEVICE_NEEDS_RESET",
            "FAILED"};
        for (int bit = 0; bit < 8; bit++)
        {
            if ((status & (1 << bit)) != 0)
            {
                names.append(names.isEmpty() ? "" : "|").append(labels[bit].isEmpty() ? "BIT_" + bit : labels[bit]);
            }
        }
        return names.isEmpty() ? "0" : names.toString();
    }
}
