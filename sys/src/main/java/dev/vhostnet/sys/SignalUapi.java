package dev.vhostnet.sys;

/** {@code <signal.h>}: the signal numbers the project sends. */
public final class SignalUapi {
    private SignalUapi() {}

    /** Urgent data on a socket; ignored by default and unused by the JVM, so free to kick a thread out of a blocking call. */
    public static final int SIGURG = 23;
}
