package io.pagewire.config;

import java.util.Objects;

/**
 * How the guest posts receive buffers, table {@code [rx]}.
 *
 * @param mode           {@code rx.mode}: mergeable, big or small; {@code auto} only until the {@link PagewireConfig}
 *                       it belongs to resolves it.
 * @param bufferSize     {@code rx.buffer_size}: bytes per posted buffer (mergeable, small) or per descriptor of a big
 *                       chain, in 12..65562.
 * @param bigDescriptors {@code rx.big.descriptors}: descriptors per chain in big mode.
 */
public record RxConfig(RxMode mode, int bufferSize, int bigDescriptors)
{
    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public RxConfig
    {
        Objects.requireNonNull(mode, "mode");
    }

    /**
     * @param features the offered features {@link RxMode#AUTO} is resolved from.
     * @return this table with its mode concrete: itself unless the mode is {@code auto}.
     */
    RxConfig resolve(final FeaturesConfig features)
    {
        final RxMode resolved = mode.resolve(features.mrgRxbuf(), features.guestTso());
        return resolved == mode ? this : new RxConfig(resolved, bufferSize, bigDescriptors);
    }
}
