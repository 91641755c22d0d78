package io.pagewire.perf.bench;

import io.pagewire.control.cli.Subcommand;

import java.io.PrintStream;

/**
 * {@code pagewire bench} as control's CLI finds it ({@link java.util.ServiceLoader}, registered in
 * {@code META-INF/services}): the harness lives here, beside the product, and the product's jar does not depend on
 * it. The {@code ./pagewire} launcher puts this module's jar on the class path for {@code bench}.
 */
public final class BenchSubcommand implements Subcommand
{
    /**
     * {@inheritDoc}
     */
    @Override
    public String name()
    {
        return "bench";
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        return BenchCommand.run(args, out, err);
    }
}
