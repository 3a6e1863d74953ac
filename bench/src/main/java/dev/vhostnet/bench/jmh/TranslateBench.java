package dev.vhostnet.bench.jmh;

import dev.vhostnet.memtable.MemoryTable;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * GPA to HVA translation with its bounds check ({@link MemoryTable#translate}), over tables of 1,
 * 8 and 64 regions (1 MiB each, 1 MiB apart), at addresses spread over every region.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TranslateBench {
    @Param({"1", "8", "64"})
    int regions;

    MemoryTable memory;
    long[] addresses;
    int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        MemoryTable.Builder b = MemoryTable.builder().maxRegions(64);
        for (int r = 0; r < regions; r++) {
            b.region(r * (2L << 20), 1 << 20);
        }
        memory = b.build();
        addresses = new long[1024];
        for (int i = 0; i < addresses.length; i++) {
            int r = (i * 7) % regions;
            addresses[i] = r * (2L << 20) + (i * 4093L) % ((1 << 20) - 2048);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        memory.close();
    }

    @Benchmark
    public long translate() {
        long gpa = addresses[next++ & 1023];
        return memory.translate(gpa, 1514);
    }
}
