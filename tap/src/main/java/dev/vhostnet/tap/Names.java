package dev.vhostnet.tap;

import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/** Random names, so two runs side by side (tests, demos) never collide. */
public final class Names {
    private Names() {}

    /** {@code prefix} and 8 random hex digits. */
    public static String random(String prefix) {
        return prefix + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    }
}
