package dev.vhostnet.broker;

import dev.vhostnet.sys.Netlink;
import dev.vhostnet.sys.SysException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What outlives the broker's process: the persistent taps it left in place on purpose, by name and
 * interface index, in a file only root reads and writes. A tap under the broker's prefixes that is
 * not in it and that no lease holds is a leftover (a broker killed with leases open, whose client
 * may have set {@code TUNSETPERSIST}/{@code TUNSETOWNER} through the fd it was given): {@link #sweep}
 * deletes those when the broker starts, before any client is served.
 */
final class TapLedger {
    private static final Logger LOG = LoggerFactory.getLogger(TapLedger.class);
    private static final Path SYS_NET = Path.of("/sys/class/net");

    private final Path file;

    TapLedger(Path file) {
        this.file = file.toAbsolutePath();
    }

    Path file() {
        return file;
    }

    /** Records a persistent tap before its fds are handed out; drops entries whose tap is gone. */
    synchronized void recordPersistent(String name, int ifindex) throws IOException {
        Map<String, Integer> kept = present(read());
        kept.put(name, ifindex);
        write(kept);
    }

    /**
     * Deletes every tun/tap device named with one of {@code prefixes} that the ledger does not
     * list (same name and index); returns the names deleted. Also forgets entries whose tap is gone.
     */
    synchronized List<String> sweep(Collection<String> prefixes) throws IOException {
        Map<String, Integer> kept = present(read());
        write(kept);
        List<String> deleted = new ArrayList<>();
        try (Stream<Path> links = Files.list(SYS_NET)) {
            for (Path link : links.toList()) {
                String name = link.getFileName().toString();
                if (prefixes.stream().noneMatch(name::startsWith) || !Files.exists(link.resolve("tun_flags"))) {
                    continue;
                }
                int index = ifindex(name);
                if (index < 0 || Integer.valueOf(index).equals(kept.get(name))) {
                    continue;
                }
                try {
                    Netlink.deleteLink(index, name);
                    deleted.add(name);
                    LOG.info("deleted tap {} (index {}): left by an earlier broker, no lease holds it", name, index);
                } catch (SysException e) {
                    LOG.warn("deleting leftover tap {}: {}", name, e.getMessage());
                }
            }
        }
        return deleted;
    }

    private static int ifindex(String name) {
        try {
            return Integer.parseInt(
                    Files.readString(SYS_NET.resolve(name).resolve("ifindex")).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static Map<String, Integer> present(Map<String, Integer> entries) {
        Map<String, Integer> kept = new LinkedHashMap<>();
        entries.forEach((name, index) -> {
            if (ifindex(name) == index) {
                kept.put(name, index);
            }
        });
        return kept;
    }

    private Map<String, Integer> read() throws IOException {
        Map<String, Integer> entries = new LinkedHashMap<>();
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return entries;
        }
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String[] parts = line.trim().split(" ");
            if (parts.length == 2) {
                try {
                    entries.put(parts[0], Integer.parseInt(parts[1]));
                } catch (NumberFormatException e) {
                    LOG.warn("{}: ignoring malformed line '{}'", file, PeerText.escape(line));
                }
            }
        }
        return entries;
    }

    /** Writes the whole ledger to a new file and renames it over the old one, so a crash leaves one or the other. */
    private void write(Map<String, Integer> entries) throws IOException {
        Path dir = file.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(
                    dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        StringBuilder text = new StringBuilder();
        entries.forEach(
                (name, index) -> text.append(name).append(' ').append(index).append('\n'));
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
