package dev.vhostnet.tap;

import java.io.IOException;
import java.nio.file.Files;
import java.util.concurrent.ThreadLocalRandom;

/** Linux bridges: enslaving an interface to one ({@code ip link set dev <link> master <bridge>}). */
public final class Bridge {
    private Bridge() {}

    /** Whether {@code name} is a bridge in this network namespace ({@code /sys/class/net/<name>/bridge}). */
    public static boolean exists(String name) {
        return !name.contains("/")
                && Files.isDirectory(TapInfo.SYS_CLASS_NET.resolve(name).resolve("bridge"));
    }

    /** Throws {@link IllegalArgumentException} with the rule unless {@code name} can name an interface. */
    public static void checkName(String name) {
        TapConfig.checkInterfaceName(name, "bridge");
    }

    /**
     * Makes {@code bridge} the master of {@code link}; throws {@link IllegalArgumentException} with
     * the fix when there is no such bridge.
     */
    public static void attach(String link, String bridge) throws IOException {
        requireBridge(bridge);
        Command.run("ip", "link", "set", "dev", link, "master", bridge);
    }

    /**
     * A tap made as a port of {@code bridge}, in the order of QEMU's {@code qemu-bridge-helper}: the
     * tap of {@code config} opened, its MTU the bridge's unless {@code config} sets one, its MAC
     * {@code fe:…} unless {@code config} sets one (the bridge takes the lowest port MAC as its own,
     * and a guest's tap must not change it), enslaved to the bridge, then brought up. The tap goes
     * again on failure.
     */
    public static TapDevice openPort(String bridge, TapConfig config) throws IOException {
        checkName(bridge);
        requireBridge(bridge);
        TapConfig.Builder port = config.toBuilder().up(false).mac(config.mac().orElseGet(Bridge::highMac));
        if (config.mtu().isEmpty()) {
            try (NetInterface br = NetInterface.open(bridge)) {
                port.mtu(br.mtu());
            }
        }
        TapDevice tap = TapDevice.open(port.build());
        try {
            attach(tap.name(), bridge);
            try (NetInterface link = NetInterface.open(tap.name())) {
                link.setUp(true);
            }
            return tap;
        } catch (IOException | RuntimeException e) {
            tap.close();
            throw e;
        }
    }

    private static void requireBridge(String bridge) {
        if (!exists(bridge)) {
            throw new IllegalArgumentException("no bridge named " + bridge + ": create it with 'ip link add " + bridge
                    + " type bridge && ip link set " + bridge + " up'");
        }
    }

    /** A random locally administered unicast MAC whose first octet is {@code 0xfe}. */
    private static MacAddress highMac() {
        byte[] mac = new byte[6];
        ThreadLocalRandom.current().nextBytes(mac);
        mac[0] = (byte) 0xfe;
        return MacAddress.of(mac);
    }
}
