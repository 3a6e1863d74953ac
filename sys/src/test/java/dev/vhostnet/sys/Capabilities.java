package dev.vhostnet.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's effective capabilities ({@code CapEff} of {@code /proc/self/status}), for test assumptions. */
public final class Capabilities {
    /** {@code CAP_NET_ADMIN} of {@code <linux/capability.h>}: create taps, configure interfaces. */
    public static final int CAP_NET_ADMIN = 12;
    /** {@code CAP_SYS_ADMIN}: make and enter namespaces. */
    public static final int CAP_SYS_ADMIN = 21;

    private Capabilities() {}

    /** Whether this process has capability {@code cap} in effect. */
    public static boolean has(int cap) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << cap)) != 0;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }
}
