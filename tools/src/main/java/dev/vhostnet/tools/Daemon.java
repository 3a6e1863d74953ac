package dev.vhostnet.tools;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/** What the long-running commands ({@code serve}, {@code vhost-user}) share: timestamped logs on stderr, and running until a signal. */
final class Daemon {
    private Daemon() {}

    /** slf4j-simple to stderr with ISO timestamps, unless set otherwise with -D. */
    static void logToStderr() {
        setDefault("org.slf4j.simpleLogger.showDateTime", "true");
        setDefault("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
        setDefault("org.slf4j.simpleLogger.logFile", "System.err");
    }

    private static void setDefault(String property, String value) {
        System.setProperty(property, System.getProperty(property, value));
    }

    /** One service of {@code services}, closed in their order: a daemon's status socket, then the daemon. */
    static AutoCloseable closingInOrder(AutoCloseable... services) {
        return () -> {
            for (AutoCloseable s : services) {
                s.close();
            }
        };
    }

    /** Blocks until SIGTERM or Ctrl-C (or an interrupt), then closes {@code service}. */
    static void runUntilSignalled(AutoCloseable service) throws Exception {
        runUntilSignalledOrFailed(service, new CompletableFuture<>());
    }

    /**
     * As {@link #runUntilSignalled}, and also ends when {@code failed} completes (the service can no
     * longer work): returns 0 after a signal, 1 after a failure (the caller's exit status; the exit
     * runs the shutdown hook, which closes the service).
     */
    static int runUntilSignalledOrFailed(AutoCloseable service, CompletionStage<?> failed) throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean failure = new AtomicBoolean();
        failed.thenRun(() -> {
            failure.set(true);
            stopped.countDown();
        });
        Thread hook = new Thread(
                () -> {
                    try {
                        service.close();
                    } catch (Exception e) {
                        System.err.println("closing: " + e.getMessage());
                    }
                    stopped.countDown();
                },
                "vhostnet-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Runtime.getRuntime().removeShutdownHook(hook);
            service.close();
        }
        return failure.get() ? 1 : 0;
    }
}
