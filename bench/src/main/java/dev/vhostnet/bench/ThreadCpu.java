package dev.vhostnet.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * CPU time of threads, read from {@code /proc}: {@code schedstat}'s first field (nanoseconds on the
 * CPU) where the kernel has it, else {@code stat}'s utime + stime (clock ticks of 10 ms).
 *
 * <p>vhost-net's workers: on Linux before 6.4 they are kernel threads of their own named
 * {@code vhost-<owner pid>}, found by scanning {@code /proc/*}{@code /comm}; from 6.4 on they are
 * threads of this process with that name ({@code /proc/self/task/*}{@code /comm}), and then already
 * inside this process's CPU time.
 */
public final class ThreadCpu {
    private static final long TICK_NANOS = 10_000_000L;

    private ThreadCpu() {}

    /** The {@code /proc} directory of the calling thread ({@code /proc/<pid>/task/<tid>}). */
    static Path currentThread() {
        try {
            return Path.of("/proc").resolve(Files.readSymbolicLink(Path.of("/proc/thread-self")));
        } catch (IOException e) {
            throw new IllegalStateException("no /proc/thread-self", e);
        }
    }

    /** CPU nanoseconds of the thread or process whose {@code /proc} directory is {@code dir}; 0 if it is gone. */
    static long nanos(Path dir) {
        try {
            String s = Files.readString(dir.resolve("schedstat")).trim();
            return Long.parseLong(s.substring(0, s.indexOf(' ')));
        } catch (IOException | RuntimeException noSchedstat) {
            try {
                String stat = Files.readString(dir.resolve("stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * TICK_NANOS;
            } catch (IOException | RuntimeException gone) {
                return 0;
            }
        }
    }

    /** CPU nanoseconds of all of {@code dirs}. */
    public static long nanos(List<Path> dirs) {
        long total = 0;
        for (Path d : dirs) {
            total += nanos(d);
        }
        return total;
    }

    /** This process's CPU time, all threads, in nanoseconds. */
    static long process() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * The JVM's JIT compiler threads ({@code C1/C2 CompilerThread<n>}, 15 characters of it in
     * {@code comm}): their CPU is the JIT's one-off cost, which on one emulated CPU still runs for
     * seconds after a warm-up and is no packet's.
     */
    static List<Path> jitThreads() {
        return ownThreadsNamed("C1 CompilerThre", "C2 CompilerThre");
    }

    /**
     * The threads of this process whose {@code comm} starts with one of {@code prefixes}: a Java
     * thread's {@code comm} is the first 15 characters of its name.
     */
    static List<Path> ownThreadsNamed(String... prefixes) {
        List<Path> named = new ArrayList<>();
        for (Path t : threadsOf(Path.of("/proc/self"))) {
            String c = comm(t);
            for (String prefix : prefixes) {
                if (c != null && c.startsWith(prefix)) {
                    named.add(t);
                    break;
                }
            }
        }
        return named;
    }

    /** The threads of process {@code pid}, as {@code /proc/<pid>/task/<tid>}; none once it is gone. */
    static List<Path> threadsOf(long pid) {
        try {
            return threadsOf(Path.of("/proc", Long.toString(pid)));
        } catch (IllegalStateException gone) {
            return List.of();
        }
    }

    private static List<Path> threadsOf(Path process) {
        List<Path> threads = new ArrayList<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(process.resolve("task"), ThreadCpu::isNumber)) {
            for (Path t : tasks) {
                threads.add(t);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + process.resolve("task"), e);
        }
        return threads;
    }

    /**
     * The vhost-net workers of this process: {@code [kernel threads outside it, threads inside it]}
     * ({@link #vhostWorkersOf}).
     */
    public static List<List<Path>> vhostWorkers() {
        return vhostWorkersOf(ProcessHandle.current().pid());
    }

    /**
     * The vhost-net workers of process {@code pid}: {@code [kernel threads outside it (Linux <
     * 6.4), threads inside it]}. A worker is named {@code vhost-<id>} after the thread that issued
     * {@code VHOST_SET_OWNER} (its thread id, which is the pid only for the main thread), so any
     * thread id of the process matches.
     */
    static List<List<Path>> vhostWorkersOf(long pid) {
        java.util.Set<String> names = new java.util.HashSet<>();
        names.add("vhost-" + pid);
        List<Path> inside = new ArrayList<>();
        for (Path t : threadsOf(pid)) {
            names.add("vhost-" + t.getFileName());
            String c = comm(t);
            if (c != null && c.matches("vhost-[0-9]+")) {
                inside.add(t);
            }
        }
        List<Path> outside = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> isNumber(p))) {
            for (Path p : procs) {
                if (!p.getFileName().toString().equals(Long.toString(pid)) && names.contains(comm(p))) {
                    outside.add(p);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return List.of(outside, inside);
    }

    private static boolean isNumber(Path p) {
        String n = p.getFileName().toString();
        return !n.isEmpty() && n.chars().allMatch(Character::isDigit);
    }

    private static String comm(Path dir) {
        try {
            return Files.readString(dir.resolve("comm")).trim();
        } catch (IOException | RuntimeException gone) {
            return null;
        }
    }
}
