package dev.vhostnet.tap;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A tap's own counters as the kernel keeps them ({@code /sys/class/net/<name>/statistics/}, what
 * {@code ip -s link} shows), from the host's side of the tap: {@code rx} is what the tap received
 * from its file descriptors (the guest's transmissions), {@code tx} what it queued for them to read
 * (the frames for the guest). {@code txDropped} counts frames the tun driver dropped because a
 * queue's reader did not keep up ({@code tun_net_xmit}: its ring full, or the tap queue detached);
 * {@code rxDropped} frames written to the tap that it could not take. Whichever backend moves the
 * packets, vhost-net's worker or this process, these are the same counters.
 */
public record TapStatistics(
        long rxPackets,
        long rxBytes,
        long rxDropped,
        long rxErrors,
        long txPackets,
        long txBytes,
        long txDropped,
        long txErrors) {

    /**
     * The counters of the interface called {@code name} in this network namespace; empty if there
     * is none (deleted, or moved to another namespace) or its statistics cannot be read.
     */
    public static Optional<TapStatistics> read(String name) {
        if (name.isEmpty() || name.contains("/") || name.startsWith(".")) {
            return Optional.empty();
        }
        Path dir = TapInfo.SYS_CLASS_NET.resolve(name).resolve("statistics");
        try {
            return Optional.of(new TapStatistics(
                    counter(dir, "rx_packets"),
                    counter(dir, "rx_bytes"),
                    counter(dir, "rx_dropped"),
                    counter(dir, "rx_errors"),
                    counter(dir, "tx_packets"),
                    counter(dir, "tx_bytes"),
                    counter(dir, "tx_dropped"),
                    counter(dir, "tx_errors")));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static long counter(Path dir, String name) throws IOException {
        return Long.parseUnsignedLong(Files.readString(dir.resolve(name)).trim());
    }
}
