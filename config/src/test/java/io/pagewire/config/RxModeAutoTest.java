package io.pagewire.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code rx.mode=auto}, the default: the mode follows the offered features as a Linux guest's virtio_net chooses it,
 * is resolved once where the config is built, and an explicit mode is kept and held to its rules.
 */
class RxModeAutoTest
{
    @ParameterizedTest(name = "mrg_rxbuf={0}, guest_tso={1} => {2}")
    @CsvSource({
        "true,  false, MERGEABLE",
        "true,  true,  MERGEABLE",
        "false, true,  BIG",
        "false, false, SMALL"})
    void defaultModeFollowsTheOfferedFeatures(final boolean mrgRxbuf, final boolean guestTso, final RxMode expected)
    {
        final List<String> features = List.of("features.mrg_rxbuf=" + mrgRxbuf, "features.guest_tso=" + guestTso);
        assertEquals(expected, PagewireConfig.load(null, features).rx().mode());
        // Spelled out, auto is the same as left out; in a file, the same as on the command line.
        final PagewireConfig spelled = PagewireConfig.load(null,
            List.of("rx.mode=auto", "features.mrg_rxbuf=" + mrgRxbuf, "features.guest_tso=" + guestTso));
        assertEquals(expected, spelled.rx().mode());
        final PagewireConfig fromFile = PagewireConfig.parse(
            "[rx]\nmode = \"auto\"\n[features]\nmrg_rxbuf = " + mrgRxbuf + "\nguest_tso = " + guestTso + "\n",
            "auto.toml", List.of());
        assertEquals(spelled, fromFile);
        assertEquals(expected, RxMode.AUTO.resolve(mrgRxbuf, guestTso));
    }

    @ParameterizedTest(name = "rx.mode={0}, mrg_rxbuf={1}, guest_tso={2}")
    @CsvSource({
        "MERGEABLE, true,  false",
        "MERGEABLE, true,  true",
        "BIG,       true,  false",
        "BIG,       false, false",
        "BIG,       false, true",
        "SMALL,     true,  true",
        "SMALL,     false, true",
        "SMALL,     false, false"})
    void anExplicitModeIsKeptWhateverTheFeatures(final RxMode mode, final boolean mrgRxbuf, final boolean guestTso)
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of("rx.mode=" + mode.configName(),
            "features.mrg_rxbuf=" + mrgRxbuf, "features.guest_tso=" + guestTso));
        assertEquals(mode, config.rx().mode());
        assertEquals(mode, mode.resolve(mrgRxbuf, guestTso));
        assertEquals(mode.configName(), config.toMap().get("rx.mode"));
    }

    @Test
    void explicitMergeableWithoutMrgRxbufIsStillRefused()
    {
        for (final String guestTso : List.of("false", "true"))
        {
            final ConfigException ex = assertThrows(ConfigException.class, () -> PagewireConfig.load(null,
                List.of("rx.mode=mergeable", "features.mrg_rxbuf=false", "features.guest_tso=" + guestTso)));
            assertEquals(List.of("rx.mode=mergeable: requires features.mrg_rxbuf=true"), ex.problems());
        }
    }

    @Test
    void theDefaultFileSaysAutoAndParsesBackToTheDefaults()
    {
        final String text = PagewireConfig.defaultFileText();
        assertTrue(text.contains("\n[rx]\n"), text);
        assertTrue(text.contains(
            "# rule: one of auto|mergeable|big|small; mergeable requires features.mrg_rxbuf=true\nmode = \"auto\"\n"),
            text);
        assertEquals(PagewireConfig.defaults(), PagewireConfig.parse(text, "defaults.toml", List.of()));
        assertEquals(RxMode.AUTO, ConfigKey.RX_MODE.defaultValue());
        // The built configuration holds the mode in effect, which is what the summary and --check print.
        assertEquals(RxMode.MERGEABLE, PagewireConfig.defaults().rx().mode());
        assertEquals("mergeable", PagewireConfig.defaults().toMap().get("rx.mode"));
    }

    @Test
    void theEffectiveConfigNamesTheResolvedModeAndReadsBackEqual()
    {
        final PagewireConfig config =
            PagewireConfig.load(null, List.of("features.mrg_rxbuf=false", "features.guest_tso=true"));
        final String toml = config.toToml();
        assertTrue(toml.contains("[rx]\nmode = \"big\"\n"), toml);
        assertEquals(config, PagewireConfig.parse(toml, "effective.toml", List.of()));
    }

    @Test
    void aRecordBuiltWithAutoIsResolvedByTheConstructor()
    {
        final PagewireConfig defaults = PagewireConfig.defaults();
        final PagewireConfig config = new PagewireConfig(
            defaults.virtqueue(),
            new RxConfig(RxMode.AUTO, 2048, 20),
            defaults.nic(),
            defaults.dataplane(),
            new FeaturesConfig(false, true, true, true, false, false),
            defaults.traffic(),
            defaults.guest());
        assertEquals(new RxConfig(RxMode.SMALL, 2048, 20), config.rx());
        assertEquals(config, PagewireConfig.load(null, List.of("rx.buffer_size=2048", "features.mrg_rxbuf=false")));
    }

    @Test
    void rulesAboutAModeApplyToWhatAutoResolvesTo()
    {
        // ewma sizes mergeable buffers: fine when auto is mergeable, refused (saying why) when it is not.
        assertEquals(BufferSizing.EWMA, PagewireConfig.load(null,
            List.of("guest.rx.buffer_sizing=ewma", "features.guest_tso=true")).guest().rxBufferSizing());
        assertEquals(List.of("guest.rx.buffer_sizing=ewma: requires rx.mode=mergeable " +
                "(rx.mode=auto is big with features.mrg_rxbuf=false, features.guest_tso=true)"),
            ConfigRulesTest.problemsOf("guest.rx.buffer_sizing=ewma", "features.mrg_rxbuf=false",
                "features.guest_tso=true"));
        // Big chains must fit the ring only when auto is big: not when it is mergeable or small.
        for (final String mrgRxbuf : List.of("true", "false"))
        {
            final PagewireConfig config = PagewireConfig.load(null, List.of("virtqueue.rx.size=16",
                "virtqueue.tx.size=16", "dataplane.burst=16", "features.mrg_rxbuf=" + mrgRxbuf));
            assertEquals(20, config.rx().bigDescriptors());
            assertEquals(Boolean.parseBoolean(mrgRxbuf) ? RxMode.MERGEABLE : RxMode.SMALL, config.rx().mode());
        }
        assertEquals(List.of("rx.big.descriptors=20: must be in 1..virtqueue.rx.size (16) when rx.mode=big " +
                "(rx.mode=auto is big with features.mrg_rxbuf=false, features.guest_tso=true)"),
            ConfigRulesTest.problemsOf("virtqueue.rx.size=16", "virtqueue.tx.size=16", "dataplane.burst=16",
                "features.mrg_rxbuf=false", "features.guest_tso=true"));
    }
}
