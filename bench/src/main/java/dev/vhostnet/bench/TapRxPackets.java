package dev.vhostnet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A tap's {@code rx_packets}: the frames written to it through its file descriptors (the guest's
 * transmissions), counted by the tun driver as it takes them, before the network stack sees them —
 * what {@code ip -s link} shows as RX. Both files below come from the kernel's {@code
 * dev_get_stats}: sysfs for a tap in this network namespace; {@code /proc/<tid>/net/dev} of a thread
 * inside another one, because sysfs shows the namespace of whoever mounted it, not the reader's.
 */
final class TapRxPackets {
    private TapRxPackets() {}

    /** {@code /sys/class/net/<name>/statistics/rx_packets} (a tap in this network namespace). */
    static long sysfs(String name) throws IOException {
        Path file = Path.of("/sys/class/net", name, "statistics", "rx_packets");
        String value = Files.readString(file).trim();
        if (!value.matches("\\d{1,19}")) {
            throw new IOException(file + " holds '" + value + "', not a count");
        }
        return Long.parseUnsignedLong(value);
    }

    /** The RX packets of {@code name} in {@code netDev}, a {@code /proc/.../net/dev} file. */
    static long procNetDev(Path netDev, String name) throws IOException {
        return parseNetDev(Files.readString(netDev), name, netDev.toString());
    }

    /**
     * The RX packets of {@code name} in the text of a {@code /proc/net/dev}: after the two header
     * lines, {@code name:} then the receive bytes, packets, … (a long name may touch the colon).
     */
    static long parseNetDev(String text, String name, String where) throws IOException {
        for (String line : text.lines().toList()) {
            int colon = line.indexOf(':');
            if (colon < 0 || !line.substring(0, colon).trim().equals(name)) {
                continue;
            }
            String[] fields = line.substring(colon + 1).trim().split("\\s+");
            if (fields.length < 16 || !fields[1].matches("\\d{1,19}")) {
                throw new IOException(where + ": the line of " + name + " is not 16 counts: '" + line.trim() + "'");
            }
            return Long.parseUnsignedLong(fields[1]);
        }
        throw new IOException("no interface " + name + " in " + where);
    }
}
