package dev.vhostnet.tools;

import java.util.concurrent.CountDownLatch;

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

    /** Blocks until SIGTERM or Ctrl-C (or an interrupt), then closes {@code service}. */
    static void runUntilSignalled(AutoCloseable service) throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            try {
                service.close();
            } catch (Exception e) {
                System.err.println("closing: " + e.getMessage());
            }
            stopped.countDown();
        }, "vhostnet-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Runtime.getRuntime().removeShutdownHook(hook);
            service.close();
        }
    }
}
