package dev.vhostnet.tap;

import dev.vhostnet.sys.TunUapi;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * A tap as the kernel shows it in sysfs ({@code /sys/class/net/<name>/}: {@code tun_flags},
 * {@code owner}, {@code group}, {@code queues/rx-*}, {@code mtu}, {@code address}, {@code flags},
 * {@code master}) — the real state, whoever made the tap. Only taps of the calling process's
 * network namespace are seen.
 *
 * @param flags the {@code IFF_*} flags of {@code tun_flags} ({@code IFF_TAP}, {@code IFF_VNET_HDR}, {@code IFF_PERSIST}…)
 * @param queues the queues the kernel exposes now ({@code queues/rx-*}): those attached, at least 1 — a
 *     persistent tap keeps no queue count, a VMM attaches as many as it opens
 * @param master the bridge (or other master) the tap is enslaved to
 */
public record TapInfo(String name, int flags, OptionalInt owner, OptionalInt group, int queues, int mtu, MacAddress mac,
                      boolean up, Optional<String> master) {
    /** Where the kernel lists network interfaces. */
    public static final Path SYS_CLASS_NET = Path.of("/sys/class/net");

    /** Every tap (not tun) device, sorted by name. */
    public static List<TapInfo> list() throws IOException {
        List<TapInfo> taps = new ArrayList<>();
        try (Stream<Path> links = Files.list(SYS_CLASS_NET)) {
            for (Path link : links.sorted().toList()) {
                read(link.getFileName().toString()).ifPresent(taps::add);
            }
        }
        return taps;
    }

    /** The tap called {@code name}; empty if there is no such interface or it is not a tap. */
    public static Optional<TapInfo> read(String name) throws IOException {
        Path dir = SYS_CLASS_NET.resolve(name);
        Path tunFlags = dir.resolve("tun_flags");
        if (name.contains("/") || !Files.exists(tunFlags)) {
            return Optional.empty();
        }
        try {
            int flags = Integer.decode(attribute(tunFlags));
            if ((flags & TunUapi.IFF_TAP) == 0) {
                return Optional.empty();
            }
            int queues;
            try (Stream<Path> q = Files.list(dir.resolve("queues"))) {
                queues = (int) q.filter(p -> p.getFileName().toString().startsWith("rx-")).count();
            }
            Path master = dir.resolve("master");
            return Optional.of(new TapInfo(name, flags, id(dir.resolve("owner")), id(dir.resolve("group")), queues,
                    Integer.parseInt(attribute(dir.resolve("mtu"))), MacAddress.parse(attribute(dir.resolve("address"))),
                    (Integer.decode(attribute(dir.resolve("flags"))) & TunUapi.IFF_UP) != 0,
                    Files.exists(master) ? Optional.of(Files.readSymbolicLink(master).getFileName().toString())
                            : Optional.empty()));
        } catch (java.nio.file.NoSuchFileException e) {
            return Optional.empty(); // removed while being read
        }
    }

    private static String attribute(Path file) throws IOException {
        return Files.readString(file).strip();
    }

    /** A uid or gid attribute: -1 means none. */
    private static OptionalInt id(Path file) throws IOException {
        int id = Integer.parseInt(attribute(file));
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public boolean vnetHeader() {
        return (flags & TunUapi.IFF_VNET_HDR) != 0;
    }

    public boolean multiQueue() {
        return (flags & TunUapi.IFF_MULTI_QUEUE) != 0;
    }

    public boolean persistent() {
        return (flags & TunUapi.IFF_PERSIST) != 0;
    }

    /** The flags by name, as {@code ip tuntap show} prints them: {@code tap persist vnet_hdr multi_queue}. */
    public List<String> flagNames() {
        List<String> names = new ArrayList<>(List.of("tap"));
        if ((flags & TunUapi.IFF_NO_PI) == 0) {
            names.add("pi");
        }
        if (persistent()) {
            names.add("persist");
        }
        if (vnetHeader()) {
            names.add("vnet_hdr");
        }
        if (multiQueue()) {
            names.add("multi_queue");
        }
        return names;
    }
}
