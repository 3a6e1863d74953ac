package dev.vhostnet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The kernel's pool of default-size huge pages ({@code HugePages_Free} and {@code Hugepagesize} in
 * {@code /proc/meminfo}), where DPDK's EAL takes its memory from ({@code --socket-mem}); with
 * {@code --in-memory} it maps them from {@code memfd_create(MFD_HUGETLB)}, so no hugetlbfs mount is
 * needed, only free pages.
 */
record HugePages(long free, long pageKib) {
    static final Path MEMINFO = Path.of("/proc/meminfo");

    static HugePages read() throws IOException {
        return parse(Files.readString(MEMINFO));
    }

    /** The pool as {@code /proc/meminfo}'s text says; throws when a field is missing or not a number. */
    static HugePages parse(String meminfo) throws IOException {
        return new HugePages(field(meminfo, "HugePages_Free:", ""), field(meminfo, "Hugepagesize:", "kB"));
    }

    private static long field(String meminfo, String name, String unit) throws IOException {
        for (String line : meminfo.lines().toList()) {
            if (line.startsWith(name)) {
                String value = line.substring(name.length()).trim();
                if (!unit.isEmpty() && value.endsWith(" " + unit)) {
                    value = value.substring(0, value.length() - unit.length()).trim();
                }
                if (!value.matches("\\d{1,15}")) {
                    throw new IOException("/proc/meminfo: " + line.trim() + " is not a count"
                            + (unit.isEmpty() ? "" : " of " + unit));
                }
                return Long.parseLong(value);
            }
        }
        throw new IOException("/proc/meminfo has no " + name + " line");
    }

    /** Free huge pages in MiB. */
    long freeMib() {
        return free * pageKib / 1024;
    }

    /**
     * Why {@code mib} MiB of huge pages cannot be had ({@code who} needs them), with how to get
     * them, or null when they are free.
     */
    String shortfall(long mib, String who) {
        if (freeMib() >= mib) {
            return null;
        }
        long pages = (mib * 1024 + pageKib - 1) / pageKib;
        return who + " need " + mib + " MiB of free huge pages (" + pages + " of " + pageKib
                + " kB); /proc/meminfo has "
                + free
                + " free (HugePages_Free): as root, echo 700 > /proc/sys/vm/nr_hugepages (or more, if others use "
                + "them), and back to 0 after";
    }
}
