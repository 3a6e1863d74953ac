package dev.vhostnet.bench.jmh;

import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.sys.VirtioUapi;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** The 12-byte {@code virtio_net_hdr_mrg_rxbuf}: read from and written to a little-endian direct buffer. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HeaderBench {
    final ByteBuffer buffer = ByteBuffer.allocateDirect(64).order(ByteOrder.LITTLE_ENDIAN);
    final VirtioNetHeader gso = new VirtioNetHeader(
            VirtioUapi.VIRTIO_NET_HDR_F_NEEDS_CSUM, VirtioUapi.VIRTIO_NET_HDR_GSO_UDP, 42, 1472, 34, 6, 0);

    @Benchmark
    public VirtioNetHeader readFrom() {
        return VirtioNetHeader.readFrom(buffer, 0, 12);
    }

    @Benchmark
    public ByteBuffer writeTo() {
        gso.writeTo(buffer, 0, 12);
        return buffer;
    }
}
