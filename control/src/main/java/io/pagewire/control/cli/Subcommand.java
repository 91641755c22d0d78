package io.pagewire.control.cli;

import java.io.PrintStream;

/**
 * A {@code pagewire} command that lives outside the product's jar: the benchmark harness ({@code pagewire bench},
 * in perf) is not the product, so control does not depend on it. {@link PagewireCli} finds such a command with
 * {@link java.util.ServiceLoader} when its jar is on the class path; the {@code ./pagewire} launcher builds the
 * harness and puts it there for {@code bench} only.
 */
public interface Subcommand
{
    /**
     * @return the word after {@code pagewire} that selects this command, e.g. {@code bench}.
     */
    String name();

    /**
     * Runs the command.
     *
     * @param args the arguments after the command's name.
     * @param out  where results go.
     * @param err  where errors go.
     * @return the process exit code (see {@link PagewireCli}).
     */
    int run(String[] args, PrintStream out, PrintStream err);
}
