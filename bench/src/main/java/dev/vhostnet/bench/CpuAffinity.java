package dev.vhostnet.bench;

import dev.vhostnet.tap.Command;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPUs a thread may run on ({@code sched_setaffinity(2)}): read from the {@code
 * Cpus_allowed_list} of its {@code /proc} status, set with {@code taskset -p -c}, as DPDK's
 * {@code --lcores 1@0} pins an lcore. {@link #pin} pins threads and gives back what restores them.
 */
final class CpuAffinity {
    private static final String ALLOWED = "Cpus_allowed_list:";

    private CpuAffinity() {}

    /** The CPUs this process may run on, in order. */
    static List<Integer> ofThisProcess() throws IOException {
        return parseList(allowedList(Path.of("/proc/self")));
    }

    /** The {@code Cpus_allowed_list} of the thread or process whose {@code /proc} directory is {@code dir}. */
    static String allowedList(Path dir) throws IOException {
        return allowedList(Files.readString(dir.resolve("status")), dir);
    }

    static String allowedList(String status, Path dir) throws IOException {
        for (String line : status.lines().toList()) {
            if (line.startsWith(ALLOWED)) {
                String list = line.substring(ALLOWED.length()).trim();
                parseList(list);
                return list;
            }
        }
        throw new IOException("no " + ALLOWED + " line in " + dir.resolve("status"));
    }

    /** A CPU list as the kernel prints it ({@code 0-3,8,10-11}), expanded; throws on anything else. */
    static List<Integer> parseList(String list) throws IOException {
        List<Integer> cpus = new ArrayList<>();
        if (!list.matches("\\d{1,4}(-\\d{1,4})?(,\\d{1,4}(-\\d{1,4})?)*")) {
            throw new IOException("not a CPU list: '" + list + "'");
        }
        for (String range : list.split(",")) {
            int dash = range.indexOf('-');
            int first = Integer.parseInt(dash < 0 ? range : range.substring(0, dash));
            int last = dash < 0 ? first : Integer.parseInt(range.substring(dash + 1));
            if (last < first) {
                throw new IOException("not a CPU list: '" + list + "' (" + range + " runs backwards)");
            }
            for (int c = first; c <= last; c++) {
                cpus.add(c);
            }
        }
        return cpus;
    }

    /**
     * Pins each of {@code threads} ({@code /proc/<pid>/task/<tid>}) to {@code cpu}; closing the
     * result restores them.
     */
    static Pins pin(List<Path> threads, int cpu) throws IOException {
        Pins pins = new Pins();
        try {
            for (Path t : threads) {
                String before = allowedList(t);
                set(t, Integer.toString(cpu));
                pins.threads.add(t);
                pins.before.add(before);
            }
            return pins;
        } catch (IOException | RuntimeException e) {
            pins.close();
            throw e;
        }
    }

    private static void set(Path thread, String cpus) throws IOException {
        Command.run("taskset", "-p", "-c", cpus, thread.getFileName().toString());
    }

    /** Threads pinned by {@link #pin}, with the CPUs each had before. */
    static final class Pins implements AutoCloseable {
        private final List<Path> threads = new ArrayList<>();
        private final List<String> before = new ArrayList<>();

        /** Gives each thread still there its CPUs back. */
        @Override
        public void close() {
            for (int i = 0; i < threads.size(); i++) {
                if (Files.exists(threads.get(i))) {
                    try {
                        set(threads.get(i), before.get(i));
                    } catch (IOException gone) {
                        // the thread ended between the check and taskset
                    }
                }
            }
            threads.clear();
            before.clear();
        }
    }
}
