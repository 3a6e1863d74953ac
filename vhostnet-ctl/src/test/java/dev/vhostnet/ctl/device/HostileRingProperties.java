package dev.vhostnet.ctl.device;

import static dev.vhostnet.sys.VirtioUapi.VIRTIO_F_NOTIFY_ON_EMPTY;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_EVENT_IDX;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_INDIRECT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_NEXT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_SIZE;
import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.device.DescriptorChain.Segment;
import dev.vhostnet.ctl.device.QueueCounters.Event;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Random descriptor tables, available rings and indirect tables — addresses in either region, in
 * the hole between them, at region ends, near 2^64; lengths of 0, huge and wrapping; any flags and
 * next indices — written raw into a small guest memory. Whatever the driver wrote, popping never
 * throws, returns only buffers wholly inside one region, keeps its totals consistent, reads no more
 * descriptors than the ring (plus one indirect head) allows, and a broken queue is broken by
 * exactly one counted rule.
 */
class HostileRingProperties {
    /** Region A [0, 64 KiB), a hole, region B [128 KiB, 192 KiB). */
    static final long A = 0;

    static final long A_END = 0x10000;
    static final long B = 0x20000;
    static final long B_END = 0x30000;
    static final int MAX_SIZE = 16;
    static final int TABLES = 2;
    /** Indirect tables the generated descriptors may point at, 256 bytes (16 entries) apart. */
    static final long TABLE_BASE = B + 0x100;

    static final long U32 = 0xffff_ffffL;

    static MemoryTable memory;
    static final Map<List<Long>, DeviceQueue> QUEUES = new HashMap<>();

    record Desc(long addr, long len, int flags, int next) {}

    record Scenario(
            int size,
            long features,
            int base,
            int availDelta,
            List<Desc> table,
            List<Integer> avail,
            List<List<Desc>> indirect) {}

    @BeforeContainer
    static void guest() throws Exception {
        memory = MemoryTable.builder().region(A, A_END - A).region(B, B_END - B).build();
    }

    @AfterContainer
    static void close() {
        QUEUES.clear();
        memory.close();
    }

    static long tableAddress(int k) {
        return TABLE_BASE + 0x100L * k;
    }

    /**
     * Scenarios built by jqwik value by value: slower to generate (about 0.2 ms a try), but a
     * failure shrinks to a small ring and table.
     */
    @Property(tries = 10_000)
    void popNeverEscapesGuestMemoryNorLoops(@ForAll("scenarios") Scenario s) {
        check(s);
    }

    /**
     * The same distributions expanded in plain Java from one seed per try, as a fuzzer does: about
     * ten times faster, so this carries the 100,000 tries per run. A failure reports the seed and
     * size; keep it as an {@code @Example} below.
     */
    @Property(tries = 100_000)
    void seededRingsBehaveTheSame(@ForAll("sizes") int size, @ForAll long seed) {
        check(fromSeed(size, seed));
    }

    // --- regressions: every failure the properties found, kept as a fixed example -----------------

    /**
     * Found by the first run: a loop through a full indirect table was caught only on reading a
     * descriptor past the table size (the head, then max + 1 entries), one more than the bound.
     * The walk now stops at the max-th NEXT before reading.
     */
    @Example
    void aLoopThroughAFullIndirectTableReadsNoMoreThanTheTable() {
        Desc buffer = new Desc(A + 0x4000, 8, 0, 0);
        List<Desc> table = padded(List.of(new Desc(tableAddress(0), 32, VRING_DESC_F_INDIRECT, 0)), buffer);
        List<Desc> loop = padded(
                List.of(new Desc(A + 0x4000, 8, VRING_DESC_F_NEXT, 1), new Desc(A + 0x4100, 8, VRING_DESC_F_NEXT, 0)),
                buffer);
        List<List<Desc>> indirect = new ArrayList<>();
        indirect.add(loop);
        while (indirect.size() < TABLES) {
            indirect.add(padded(List.of(), buffer));
        }
        Scenario s = new Scenario(
                2, bit(VIRTIO_RING_F_INDIRECT_DESC), 0, 1, table, Collections.nCopies(MAX_SIZE, 0), indirect);
        check(s);
        DeviceQueue q = QUEUES.get(List.of(2L, bit(VIRTIO_RING_F_INDIRECT_DESC)));
        assertEquals(Optional.of(Violation.CHAIN_TOO_LONG), q.violation());
    }

    static List<Desc> padded(List<Desc> first, Desc filler) {
        List<Desc> out = new ArrayList<>(first);
        while (out.size() < MAX_SIZE) {
            out.add(filler);
        }
        return out;
    }

    /** Runs one scenario and checks every invariant; also the body of the regression examples. */
    static void check(Scenario s) {
        VringLayout layout = VringLayout.contiguous(0, s.size());
        RawRing ring = new RawRing(memory, layout);
        write(ring, s);
        // One queue per ring size and feature set, reset between tries: the reset path runs every try.
        DeviceQueue q = QUEUES.computeIfAbsent(
                List.of((long) s.size(), s.features()),
                k -> new DeviceQueue(memory, layout, FeatureSet.of(s.features()), "fuzz"));
        q.reset();
        q.setNextAvail(s.base());
        long violationsBefore = q.counters().violations();
        long readBefore = q.counters().get(Event.DESCRIPTORS_READ);

        int popped = 0;
        long descriptorsRead = 0;
        while (true) {
            Optional<DescriptorChain> popping = q.pop();
            if (popping.isEmpty()) {
                break;
            }
            DescriptorChain c = popping.get();
            popped++;
            assertTrue(popped <= s.size(), "more chains than the ring holds");
            assertTrue(c.head() >= 0 && c.head() < s.size(), "head in the table");
            long readable = 0;
            for (Segment seg : c.readable()) {
                assertSegment(seg);
                readable += seg.length();
            }
            long writable = 0;
            for (Segment seg : c.writable()) {
                assertSegment(seg);
                writable += seg.length();
            }
            assertEquals(readable, c.readableBytes());
            assertEquals(writable, c.writableBytes());
            assertTrue(readable + writable <= U32, "total fits 32 bits");
            int indirectHead = c.isIndirect() ? 1 : 0;
            assertEquals(c.readableCount() + c.writableCount() + indirectHead, c.descriptors());
            assertTrue(c.descriptors() <= s.size() + indirectHead, "walk bounded by the ring size");
            descriptorsRead += c.descriptors();
            if (c.readableBytes() <= 4096) {
                assertEquals(c.readableBytes(), c.readAll().length);
            }
            q.pushUsed(c.head(), (int) Math.min(c.writableBytes(), 64));
            if (popped % 2 == 0) {
                q.flushUsed();
            }
        }
        q.flushUsed();
        q.needsNotification();
        q.enableNotifications();

        long readTotal = q.counters().get(Event.DESCRIPTORS_READ) - readBefore;
        assertTrue(readTotal - descriptorsRead <= s.size() + 1, "the bad chain's walk is bounded too");
        long violations = q.counters().violations() - violationsBefore;
        if (q.isBroken()) {
            assertEquals(1, violations, "one rule counted: " + q.counters());
            Statistics.label("outcome")
                    .collect("broken: " + q.violation().orElseThrow().counterName());
        } else {
            assertEquals(0, violations);
            assertTrue(q.isEmpty(), "a healthy queue stops only when empty");
            Statistics.label("outcome").collect(popped == 0 ? "empty" : "healthy");
        }
        assertEquals(q.nextUsed(), ring.usedIdx(), "used index published");
        assertEquals(0, q.inFlight(), "every popped (or bad) chain was returned");
    }

    static void assertSegment(Segment seg) {
        assertTrue(seg.length() > 0 && seg.length() <= U32, "length " + seg.length());
        assertTrue(memory.contains(seg.gpa(), seg.length()), "inside one region: " + seg);
    }

    /** Writes the scenario with a few bulk copies (the per-field accessors cost a JNA call each). */
    static void write(RawRing ring, Scenario s) {
        ring.clear();
        writeTable(ring.layout.descGpa(), s.table().subList(0, s.size()));
        List<Desc> all = new ArrayList<>();
        s.indirect().forEach(all::addAll);
        writeTable(tableAddress(0), all);
        ring.setAvailIdx(s.base());
        for (int i = 0; i < s.size(); i++) {
            ring.post(s.avail().get(i));
        }
        ring.setAvailIdx(s.base() + s.availDelta());
        ring.setUsedIdx(s.base());
    }

    static void writeTable(long gpa, List<Desc> descs) {
        ByteBuffer b = ByteBuffer.allocate(descs.size() * VRING_DESC_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (Desc d : descs) {
            b.putLong(d.addr())
                    .putInt((int) d.len())
                    .putShort((short) d.flags())
                    .putShort((short) d.next());
        }
        memory.write(gpa, b.array(), 0, b.capacity());
    }

    // --- generators ------------------------------------------------------------------------------

    @Provide
    Arbitrary<Integer> sizes() {
        return Arbitraries.of(1, 2, 4, 8, 16);
    }

    /** One scenario from {@code seed}, with the weights of the jqwik generators below. */
    static Scenario fromSeed(int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long features = pick(r, new int[] {6, 1, 1}) == 0
                ? bit(VIRTIO_RING_F_INDIRECT_DESC)
                : pick(r, new int[] {1, 1}) == 0
                        ? 0L
                        : bit(VIRTIO_RING_F_INDIRECT_DESC)
                                | bit(VIRTIO_RING_F_EVENT_IDX)
                                | bit(VIRTIO_F_NOTIFY_ON_EMPTY);
        int base = switch (pick(r, new int[] {3, 2, 1})) {
            case 0 -> 0;
            case 1 -> r.nextInt(0xfff0, 0x10000);
            default -> r.nextInt(0x10000);
        };
        int delta = switch (pick(r, new int[] {30, 3, 1, 1})) {
            case 0 -> 1 + r.nextInt(size);
            case 1 -> 0;
            case 2 -> size + 1 + r.nextInt(2);
            default -> r.nextInt(0x10000);
        };
        // A third of the seeds keep every address and length sane, so that long chains, loops,
        // ordering and indirect tables are reached past the first descriptor.
        boolean sane = r.nextInt(3) == 0;
        List<Desc> table = new ArrayList<>();
        for (int i = 0; i < MAX_SIZE; i++) {
            table.add(randomDesc(r, size, sane));
        }
        List<Integer> avail = new ArrayList<>();
        for (int i = 0; i < MAX_SIZE; i++) {
            avail.add(randomIndex(r, size));
        }
        List<List<Desc>> indirect = new ArrayList<>();
        for (int k = 0; k < TABLES; k++) {
            List<Desc> t = new ArrayList<>();
            for (int i = 0; i < MAX_SIZE; i++) {
                t.add(randomDesc(r, size, sane));
            }
            indirect.add(t);
        }
        return new Scenario(size, features, base, delta, table, avail, indirect);
    }

    static int pick(SplittableRandom r, int[] weights) {
        int total = 0;
        for (int w : weights) {
            total += w;
        }
        int x = r.nextInt(total);
        for (int i = 0; i < weights.length; i++) {
            x -= weights[i];
            if (x < 0) {
                return i;
            }
        }
        throw new AssertionError();
    }

    static final int[] INDEX_WEIGHTS = {10, 1, 1};
    static final int[] ADDR_WEIGHTS = {6, 6, 5, 2, 2, 1, 1, 1, 1};
    static final int[] LEN_WEIGHTS = {8, 5, 1, 1, 1, 1};
    static final int[] FLAG_WEIGHTS = {12, 4, 1};

    static int randomIndex(SplittableRandom r, int size) {
        return switch (pick(r, INDEX_WEIGHTS)) {
            case 0 -> r.nextInt(size);
            case 1 -> size + r.nextInt(Math.max(size, MAX_SIZE) - size + 1);
            default -> r.nextInt(0x10000);
        };
    }

    static final int[] SANE_ADDR_WEIGHTS = {6, 6, 5};
    static final int[] SANE_LEN_WEIGHTS = {8, 5};

    static Desc randomDesc(SplittableRandom r, int size, boolean sane) {
        long addr = switch (pick(r, sane ? SANE_ADDR_WEIGHTS : ADDR_WEIGHTS)) {
            case 0 -> r.nextLong(A, A_END);
            case 1 -> r.nextLong(B, B_END);
            case 2 -> tableAddress(r.nextInt(TABLES));
            case 3 -> r.nextLong(A_END - 64, A_END + 65);
            case 4 -> r.nextLong(B_END - 64, B_END + 65);
            case 5 -> r.nextLong(A_END, B);
            case 6 -> -1L - r.nextLong(0x1000);
            case 7 -> Long.MAX_VALUE - r.nextLong(0x1000);
            default -> r.nextLong();
        };
        long len = switch (pick(r, sane ? SANE_LEN_WEIGHTS : LEN_WEIGHTS)) {
            case 0 -> 1 + r.nextLong(256);
            case 1 -> 16L * (sane ? 1 + r.nextInt(size) : r.nextInt(MAX_SIZE + 3));
            case 2 -> 0;
            case 3 -> r.nextLong(0x8000, 0x10001);
            case 4 -> U32 - r.nextLong(0x1001);
            default -> r.nextLong(U32 + 1);
        };
        int flags = switch (pick(r, FLAG_WEIGHTS)) {
            case 0 -> r.nextInt(4);
            case 1 -> r.nextInt(8);
            default -> r.nextInt(0x10000);
        };
        return new Desc(addr, len, flags, randomIndex(r, size));
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Integer> sizes = Arbitraries.of(1, 2, 4, 8, 16);
        return sizes.flatMap(size -> {
            Arbitrary<Desc> desc = descriptors(size);
            Arbitrary<List<Desc>> table = desc.list().ofSize(MAX_SIZE);
            Arbitrary<List<Integer>> avail = index(size).list().ofSize(MAX_SIZE);
            Arbitrary<List<List<Desc>>> indirect =
                    desc.list().ofSize(MAX_SIZE).list().ofSize(TABLES);
            Arbitrary<Integer> base = Arbitraries.frequencyOf(
                    Tuple.of(3, Arbitraries.just(0)),
                    Tuple.of(2, Arbitraries.integers().between(0xfff0, 0xffff)),
                    Tuple.of(1, Arbitraries.integers().between(0, 0xffff)));
            Arbitrary<Integer> delta = Arbitraries.frequencyOf(
                    Tuple.of(30, Arbitraries.integers().between(1, size)),
                    Tuple.of(3, Arbitraries.just(0)),
                    Tuple.of(1, Arbitraries.integers().between(size + 1, size + 2)),
                    Tuple.of(1, Arbitraries.integers().between(0, 0xffff)));
            Arbitrary<Long> features = Arbitraries.frequencyOf(
                    Tuple.of(6, Arbitraries.just(bit(VIRTIO_RING_F_INDIRECT_DESC))),
                    Tuple.of(1, Arbitraries.just(0L)),
                    Tuple.of(
                            1,
                            Arbitraries.just(bit(VIRTIO_RING_F_INDIRECT_DESC)
                                    | bit(VIRTIO_RING_F_EVENT_IDX)
                                    | bit(VIRTIO_F_NOTIFY_ON_EMPTY))));
            return Combinators.combine(features, base, delta, table, avail, indirect)
                    .as((f, b, d, t, a, i) -> new Scenario(size, f, b, d, t, a, i));
        });
    }

    /** Mostly indices around the table (in range and just past it), sometimes any 16-bit value. */
    static Arbitrary<Integer> index(int size) {
        return Arbitraries.frequencyOf(
                Tuple.of(10, Arbitraries.integers().between(0, size - 1)),
                Tuple.of(1, Arbitraries.integers().between(size, Math.max(size, MAX_SIZE))),
                Tuple.of(1, Arbitraries.integers().between(0, 0xffff)));
    }

    static Arbitrary<Desc> descriptors(int size) {
        Arbitrary<Long> addr = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.longs().between(A, A_END - 1)),
                Tuple.of(6, Arbitraries.longs().between(B, B_END - 1)),
                Tuple.of(5, Arbitraries.integers().between(0, TABLES - 1).map(HostileRingProperties::tableAddress)),
                Tuple.of(2, Arbitraries.longs().between(A_END - 64, A_END + 64)),
                Tuple.of(2, Arbitraries.longs().between(B_END - 64, B_END + 64)),
                Tuple.of(1, Arbitraries.longs().between(A_END, B - 1)),
                Tuple.of(1, Arbitraries.longs().between(-0x1000L, -1L)),
                Tuple.of(1, Arbitraries.longs().between(Long.MAX_VALUE - 0x1000, Long.MAX_VALUE)),
                Tuple.of(1, Arbitraries.longs()));
        Arbitrary<Long> len = Arbitraries.frequencyOf(
                Tuple.of(8, Arbitraries.longs().between(1, 256)),
                Tuple.of(5, Arbitraries.integers().between(0, MAX_SIZE + 2).map(n -> 16L * n)),
                Tuple.of(1, Arbitraries.just(0L)),
                Tuple.of(1, Arbitraries.longs().between(0x8000, 0x10000)),
                Tuple.of(1, Arbitraries.longs().between(U32 - 0x1000, U32)),
                Tuple.of(1, Arbitraries.longs().between(0, U32)));
        Arbitrary<Integer> flags = Arbitraries.frequencyOf(
                Tuple.of(12, Arbitraries.integers().between(0, 3)),
                Tuple.of(4, Arbitraries.integers().between(0, 7)),
                Tuple.of(1, Arbitraries.integers().between(0, 0xffff)));
        return Combinators.combine(addr, len, flags, index(size)).as(Desc::new);
    }
}
