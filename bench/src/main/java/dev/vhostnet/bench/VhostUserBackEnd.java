package dev.vhostnet.bench;

import java.io.IOException;
import java.time.Duration;

/**
 * A vhost-user back-end that {@link VhostUserPeers} measures: it serves one socket and moves what
 * its front-end sends into a tap of its own in this network namespace.
 */
interface VhostUserBackEnd extends AutoCloseable {
    BenchPath path();

    /** The tap the front-end's frames go to. */
    String tap();

    /** Waits until the front-end's rings are served, then pins the back-end's data path to its CPU. */
    void serving(Duration patience) throws Exception;

    /** CPU nanoseconds its threads have run so far. */
    long cpuNanos();

    @Override
    void close() throws IOException;
}
