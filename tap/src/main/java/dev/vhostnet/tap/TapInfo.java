package dev.vhostnet.tap;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Netlink;
import dev.vhostnet.sys.NetlinkUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * A tap as the kernel shows it in sysfs ({@code /sys/class/net/<name>/}: {@code tun_flags},
 * {@code owner}, {@code group}, {@code mtu}, {@code address}, {@code flags}, {@code master}) and
 * route netlink (the queues attached) — the real state, whoever made the tap. Only taps of the calling process's
 * network namespace are seen.
 *
 * @param flags the {@code IFF_*} flags of {@code tun_flags} ({@code IFF_TAP}, {@code IFF_VNET_HDR}, {@code IFF_PERSIST}…)
 * @param queues the queues attached now (enabled or disabled), 0 for a persistent tap no process has
 *     open — a persistent tap keeps no queue count, a VMM attaches as many as it opens
 * @param master the bridge (or other master) the tap is enslaved to
 */
public record TapInfo(
        String name,
        int flags,
        OptionalInt owner,
        OptionalInt group,
        int queues,
        int mtu,
        MacAddress mac,
        boolean up,
        Optional<String> master) {
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
            int queues = attachedQueues(name, dir, flags);
            Path master = dir.resolve("master");
            return Optional.of(new TapInfo(
                    name,
                    flags,
                    id(dir.resolve("owner")),
                    id(dir.resolve("group")),
                    queues,
                    Integer.parseInt(attribute(dir.resolve("mtu"))),
                    MacAddress.parse(attribute(dir.resolve("address"))),
                    (Integer.decode(attribute(dir.resolve("flags"))) & TunUapi.IFF_UP) != 0,
                    Files.exists(master)
                            ? Optional.of(
                                    Files.readSymbolicLink(master).getFileName().toString())
                            : Optional.empty()));
        } catch (java.nio.file.NoSuchFileException e) {
            return Optional.empty(); // removed while being read
        } catch (SysException e) {
            if (e.is(Errno.ENODEV)) {
                return Optional.empty(); // removed while being read
            }
            throw e;
        }
    }

    /**
     * The queues attached now, from netlink ({@code ip -d link show}): sysfs's {@code queues/rx-*}
     * cannot say, the kernel keeps at least one there, also for a persistent tap with none attached.
     * A multi-queue tap reports its enabled and disabled queues ({@code tun_fill_info}); a single-queue
     * tap has carrier while its queue is attached ({@code tun_attach} and {@code __tun_detach} turn it
     * on and off).
     */
    private static int attachedQueues(String name, Path dir, int flags) throws IOException {
        Map<Integer, ByteBuffer> link = Netlink.getLink(Integer.parseInt(attribute(dir.resolve("ifindex"))), name);
        if ((flags & TunUapi.IFF_MULTI_QUEUE) == 0) {
            return link.get(NetlinkUapi.IFLA_CARRIER).get(0) != 0 ? 1 : 0;
        }
        Map<Integer, ByteBuffer> tun = Netlink.attributes(
                Netlink.attributes(link.get(NetlinkUapi.IFLA_LINKINFO)).get(NetlinkUapi.IFLA_INFO_DATA));
        return tun.get(NetlinkUapi.IFLA_TUN_NUM_QUEUES).getInt(0)
                + tun.get(NetlinkUapi.IFLA_TUN_NUM_DISABLED_QUEUES).getInt(0);
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
