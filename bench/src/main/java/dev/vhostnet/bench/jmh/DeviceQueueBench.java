package dev.vhostnet.bench.jmh;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.device.DescriptorChain;
import dev.vhostnet.ctl.device.DeviceQueue;
import dev.vhostnet.ctl.ring.Segment;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.driver.DriverQueue;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.VirtioUapi;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The emulated device's per-packet ring work: pop a descriptor chain (every guest value checked),
 * push it used, publish the used index. The driver fills the ring with 256 chains once; each invocation
 * the device consumes them all, then the available index moves on by 256 so the same chains
 * are available again — the driver's cost is not in the figure. ns/op is per chain.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DeviceQueueBench {
    /** Chains per invocation: the ring holds this many chains of {@link #descriptors} descriptors each. */
    static final int CHAINS = 256;

    /** Descriptors per chain: 1 (header and frame in one buffer, as the driver's TX) or 2 (header, then frame). */
    @Param({"1", "2"})
    int descriptors;

    MemoryTable memory;
    DeviceQueue device;
    DescriptorChain chain;
    VringLayout layout;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        memory = MemoryTable.builder().region(0, 4 << 20).build();
        layout = VringLayout.contiguous(0x10000, CHAINS * descriptors);
        FeatureSet features = FeatureSet.of(VirtioFeature.VERSION_1, VirtioFeature.EVENT_IDX);
        DriverQueue<Integer> driver = DriverQueue.<Integer>builder(memory, layout, features)
                .name("bench driver")
                .build();
        for (int i = 0; i < CHAINS; i++) {
            long buf = 0x100000L + i * 2048L;
            List<Segment> readable = descriptors == 1
                    ? List.of(new Segment(buf, 12 + 64))
                    : List.of(new Segment(buf, 12), new Segment(buf + 12, 64));
            driver.add(readable, List.of(), i);
        }
        driver.publish();
        device = new DeviceQueue(memory, layout, features, "bench device");
        chain = new DescriptorChain();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        memory.close();
    }

    @Benchmark
    @OperationsPerInvocation(CHAINS)
    public int popPushFlush() {
        int chains = CHAINS;
        int bytes = 0;
        for (int i = 0; i < chains; i++) {
            if (!device.popInto(chain)) {
                throw new IllegalStateException("nothing to pop: " + device);
            }
            bytes += (int) chain.readableBytes();
            device.pushUsed(chain.head(), 0);
            device.flushUsed();
        }
        long availIdx = layout.availGpa() + VirtioUapi.VRING_AVAIL_IDX;
        memory.putShort(availIdx, (short) (memory.getShort(availIdx) + chains));
        return bytes;
    }
}
