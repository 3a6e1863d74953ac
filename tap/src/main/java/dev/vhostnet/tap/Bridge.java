package dev.vhostnet.tap;

import java.io.IOException;
import java.nio.file.Files;

/** Linux bridges: enslaving an interface to one ({@code ip link set dev <link> master <bridge>}). */
public final class Bridge {
    private Bridge() {}

    /** Whether {@code name} is a bridge in this network namespace ({@code /sys/class/net/<name>/bridge}). */
    public static boolean exists(String name) {
        return !name.contains("/")
                && Files.isDirectory(TapInfo.SYS_CLASS_NET.resolve(name).resolve("bridge"));
    }

    /**
     * Makes {@code bridge} the master of {@code link}; throws {@link IllegalArgumentException} with
     * the fix when there is no such bridge.
     */
    public static void attach(String link, String bridge) throws IOException {
        if (!exists(bridge)) {
            throw new IllegalArgumentException("no bridge named " + bridge + ": create it with 'ip link add " + bridge
                    + " type bridge && ip link set " + bridge + " up'");
        }
        Command.run("ip", "link", "set", "dev", link, "master", bridge);
    }
}
