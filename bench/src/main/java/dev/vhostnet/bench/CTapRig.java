package dev.vhostnet.bench;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.vhostnet.tap.Command;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The C ceiling: {@code raw_tap.c} (a resource of this package) written to a temporary directory,
 * compiled with {@code gcc -O2} when the rig starts, and run once per repetition and queue pair
 * under {@code ip netns exec}: each process attaches a queue of its own to the Java ceiling's
 * multiqueue tap by name while the Java queues are detached, so all traffic reaches it.
 *
 * <p>It keeps the same window as the Java loops: the sink's count (TX) and the C loop's own count
 * (RX, for the source) are shared through a 16-byte file both map. For TX the packets counted
 * are those the sink received, or with {@link TxCount#TAP} those the tap took, without a window.
 * Its CPU time is the C process's own ({@code getrusage}).
 */
final class CTapRig extends Rig {
    private final RawTapRig javaRig;
    private final Path dir;
    private final Path binary;

    private CTapRig(RawTapRig java, Path dir, Path binary) {
        super(java.net, java.peer, java.pairs);
        this.javaRig = java;
        this.dir = dir;
        this.binary = binary;
    }

    /** Compiles the C loop; fails with gcc's output when it cannot. */
    static CTapRig start(RawTapRig java) throws Exception {
        Path dir = Files.createTempDirectory("vhostnet-bench-c");
        Path source = dir.resolve("raw_tap.c");
        try (InputStream in = CTapRig.class.getResourceAsStream("raw_tap.c")) {
            Files.write(source, in.readAllBytes());
        }
        Path binary = dir.resolve("raw_tap");
        Command.Result gcc =
                Command.exec(List.of("gcc", "-O2", "-o", binary.toString(), source.toString()), Duration.ofSeconds(60));
        if (gcc.exit() != 0) {
            throw new IOException("gcc -O2 raw_tap.c failed: " + gcc.output().trim());
        }
        return new CTapRig(java, dir, binary);
    }

    @Override
    BenchPath path() {
        return BenchPath.RAW_C;
    }

    @Override
    GuestPort port(int pair) {
        throw new UnsupportedOperationException("the C loop is its own guest");
    }

    @Override
    Rep run(Direction direction, int size, long limit, long nanos, int window, TxCount count) throws Exception {
        long perPair = limit == 0 ? 0 : Math.max(1, limit / pairs);
        String mode = direction.name().toLowerCase(Locale.ROOT);
        List<Process> procs = new ArrayList<>();
        List<java.nio.MappedByteBuffer> counters = new ArrayList<>();
        javaRig.attach(false);
        try {
            for (int p = 0; p < pairs; p++) {
                int port = direction == Direction.RR ? Peer.ECHO_PORT + p : Peer.SINK_PORT + p;
                byte[] frame = direction == Direction.RR
                        ? net.frameToHost(41000 + p, port, size)
                        : net.txFrame(count, 40000 + p, port, size);
                ByteBuffer b = ByteBuffer.allocate(12 + frame.length);
                RawTapRig.writeFrame(b, frame, header(size));
                Path file = dir.resolve("frame-" + p + ".bin");
                Files.write(file, Arrays.copyOf(b.array(), b.remaining()));
                Path counterFile = dir.resolve("counter-" + p + ".bin");
                Files.write(counterFile, new byte[16]);
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(
                        counterFile, java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
                    java.nio.MappedByteBuffer m = ch.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, 0, 16);
                    m.order(java.nio.ByteOrder.nativeOrder());
                    counters.add(m);
                }
                if (direction == Direction.TX) {
                    peer.mirror(p, counters.get(p));
                }
                Process proc = new ProcessBuilder(
                                "ip",
                                "netns",
                                "exec",
                                net.ns,
                                binary.toString(),
                                net.tap.name(),
                                mode,
                                file.toString(),
                                String.format(Locale.ROOT, "%.3f", nanos / 1e9),
                                Long.toString(perPair),
                                Integer.toString(12 + size),
                                counterFile.toString(),
                                Integer.toString(direction == Direction.TX && count == TxCount.TAP ? 0 : window))
                        .redirectError(ProcessBuilder.Redirect.INHERIT)
                        .start();
                procs.add(proc);
                String ready = new BufferedReader(new InputStreamReader(proc.getInputStream(), UTF_8)).readLine();
                if (!"ready".equals(ready)) {
                    throw new IOException("the C loop did not start on tap " + net.tap.name() + ": " + ready);
                }
            }
            LongSupplier delivered = delivered(count);
            for (Process proc : procs) {
                OutputStream in = proc.getOutputStream();
                in.write("go\n".getBytes(UTF_8));
                in.flush();
            }
            if (direction == Direction.RX) {
                peer.source().start(size, 0, window, PacketCount.polled(() -> {
                    long received = 0;
                    for (java.nio.MappedByteBuffer m : counters) {
                        received += m.getLong(8);
                    }
                    return received;
                }));
            }
            long packets = 0;
            long sent = 0;
            long maxNanos = 0;
            long cpu = 0;
            long p50 = 0;
            long p99 = 0;
            for (Process proc : procs) {
                // Wait first: reading to the end of its output would wait for a stuck loop without a limit.
                if (!proc.waitFor(nanos / 1_000_000_000L + 30, TimeUnit.SECONDS)) {
                    throw new IOException("the C loop did not finish within " + (nanos / 1_000_000_000L + 30) + " s");
                }
                String line = new String(proc.getInputStream().readAllBytes(), UTF_8).trim();
                if (proc.exitValue() != 0) {
                    throw new IOException("the C loop failed: " + line);
                }
                String[] f = line.split(" ");
                packets += Long.parseLong(f[1]);
                sent += Long.parseLong(f[3]);
                maxNanos = Math.max(maxNanos, Long.parseLong(f[5]));
                cpu += Long.parseLong(f[7]);
                p50 = Math.max(p50, Long.parseLong(f[9]));
                p99 = Math.max(p99, Long.parseLong(f[11]));
            }
            if (direction == Direction.RX) {
                sent = peer.source().stop();
            }
            if (direction == Direction.TX) {
                drain(delivered, sent);
                packets = delivered.getAsLong();
            }
            long bytes = packets * size * (direction == Direction.RR ? 2L : 1L);
            return new Rep(packets, bytes, sent, Math.max(1, maxNanos), 0, cpu, cpu, p50, p99, 0, 0);
        } finally {
            for (int p = 0; p < pairs; p++) {
                peer.mirror(p, null);
            }
            for (Process proc : procs) {
                proc.destroyForcibly();
            }
            javaRig.attach(true);
        }
    }

    @Override
    public void close() throws IOException {
        Files.deleteIfExists(binary);
        Files.deleteIfExists(dir.resolve("raw_tap.c"));
        for (int p = 0; p < 8; p++) {
            Files.deleteIfExists(dir.resolve("frame-" + p + ".bin"));
            Files.deleteIfExists(dir.resolve("counter-" + p + ".bin"));
        }
        Files.deleteIfExists(dir);
    }
}
