package io.pagewire.dataplane.os;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Fails a test that leaves more (or fewer) descriptors open than it found: {@link Fds#openFdCount()} is taken
 * before each test and compared after it, once the test's own resources are closed.
 */
final class NoFdLeaks implements BeforeEachCallback, AfterEachCallback
{
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(NoFdLeaks.class);

    @Override
    public void beforeEach(final ExtensionContext context)
    {
        context.getStore(NAMESPACE).put("before", Fds.openFdCount());
    }

    @Override
    public void afterEach(final ExtensionContext context)
    {
        final int before = context.getStore(NAMESPACE).get("before", Integer.class);
        assertEquals(before, Fds.openFdCount(), "open fds after the test (a leak, or a double close)");
    }
}
