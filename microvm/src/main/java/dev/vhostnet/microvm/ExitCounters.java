package dev.vhostnet.microvm;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the vCPU loop saw: exits by reason, and accesses no device took (by kind and address) —
 * the guest probing hardware this VMM does not have. Never a reason to stop the guest.
 */
public final class ExitCounters {
    /** Distinct names kept; a guest scanning addresses beyond that is counted under one name per kind. */
    private static final int MAX_NAMES = 256;

    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();

    void exit(String reason) {
        counts.computeIfAbsent("exit " + reason, k -> new LongAdder()).increment();
    }

    /** A lost interrupt delivered again ({@code VcpuLoop}): {@code "redelivered vector 0x30"}. */
    void redelivered(int vector) {
        counts.computeIfAbsent(String.format("redelivered vector 0x%02x", vector), k -> new LongAdder())
                .increment();
    }

    /** The devices' interrupts raised for a vCPU that idled two kicks in a row ({@code VcpuLoop}). */
    void raisedWhileIdle() {
        counts.computeIfAbsent("device interrupts raised while idle", k -> new LongAdder())
                .increment();
    }

    void unhandled(String kind, long address) {
        String name = String.format("unhandled %s 0x%x", kind, address);
        if (counts.size() >= MAX_NAMES && !counts.containsKey(name)) {
            name = "unhandled " + kind + " elsewhere";
        }
        counts.computeIfAbsent(name, k -> new LongAdder()).increment();
    }

    /** A snapshot, by name ({@code "exit IO"}, {@code "unhandled pio read 0x61"}…). */
    public Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        counts.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** How many accesses no device took. */
    public long unhandled() {
        return counts.entrySet().stream()
                .filter(e -> e.getKey().startsWith("unhandled"))
                .mapToLong(e -> e.getValue().sum())
                .sum();
    }

    @Override
    public String toString() {
        return snapshot().toString();
    }
}
