package dev.vhostnet.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.memtable.MemoryTable;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Random register traffic at both transports, as a hostile guest's exit loop would deliver it: no
 * exception reaches the caller, no internal error is counted, refusals are, and a transport
 * that went through it can still be reset and brought up by a correct driver.
 */
class HostileRegisterProperties {
    /** One access: region (0 config space / mmio window, 1 BAR), offset, size, value, read or write. */
    record Access(int region, long offset, int size, long value, boolean write) {}

    @Provide
    Arbitrary<Access> accesses() {
        Arbitrary<Long> offsets = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 0x60).map(o -> o & ~1L),
                Arbitraries.longs().between(0, 0x120),
                Arbitraries.longs().between(0, 0x8000),
                Arbitraries.longs().between(-16, 0x10010),
                Arbitraries.of(0x3000L, 0x3004L, 0x4000L, 0x400cL, 0x401cL, 0x5000L, 0x1000L, 0x14L, 0x70L, 0x44L));
        Arbitrary<Long> values = Arbitraries.oneOf(
                Arbitraries.longs(),
                Arbitraries.longs().between(0, 16),
                Arbitraries.of(0L, 1L, 3L, 0xbL, 0xfL, 0xffffL, 0xffff_ffffL, 0x8000L, 0xc000L, 0x100000000L));
        return Combinators.combine(
                        Arbitraries.integers().between(0, 1),
                        offsets,
                        Arbitraries.of(0, 1, 2, 3, 4, 8, 16),
                        values,
                        Arbitraries.of(true, false))
                .as(Access::new);
    }

    @Property(tries = 200)
    void mmioTakesAnyTrafficWithoutThrowing(
            @ForAll @Size(max = 300) List<@net.jqwik.api.From("accesses") Access> traffic) throws Exception {
        FakeDevice device = new FakeDevice();
        try (MemoryTable memory = MemoryTable.builder().region(0, 0x100000).build();
                VirtioMmioTransport t = new VirtioMmioTransport(device, 0xd000_0000L, 5, 0, memory)) {
            for (Access a : traffic) {
                byte[] data = new byte[a.size()];
                Le.fill(data, a.value());
                if (a.write()) {
                    t.write(a.offset(), data);
                } else {
                    t.read(a.offset(), data);
                }
            }
            assertEquals(0, t.counters().internalErrors(), t.counters().lastRefusal());
            long misfits = traffic.stream()
                    .filter(a -> a.offset() < 0x100 && (a.size() != 4 || a.offset() % 4 != 0))
                    .count();
            assertTrue(
                    t.counters().badAccesses() >= misfits,
                    "every register access of the wrong size or alignment is counted");
            byte[] zero = new byte[4];
            t.write(0x70, zero);
            byte[] status = new byte[4];
            t.read(0x70, status);
            assertEquals(0, Le.value(status), "a reset always works");
        }
    }

    @Property(tries = 200)
    void pciTakesAnyTrafficWithoutThrowing(
            @ForAll @Size(max = 300) List<@net.jqwik.api.From("accesses") Access> traffic) throws Exception {
        FakeDevice device = new FakeDevice();
        RecordingWiring wiring = new RecordingWiring();
        try (MemoryTable memory = MemoryTable.builder().region(0, 0x100000).build();
                VirtioPciTransport t = new VirtioPciTransport(device, 40, wiring, memory)) {
            for (Access a : traffic) {
                byte[] data = new byte[a.size()];
                Le.fill(data, a.value());
                if (a.region() == 0 && a.write()) {
                    t.writeConfig((int) a.offset(), data);
                } else if (a.region() == 0) {
                    t.readConfig((int) a.offset(), data);
                } else if (a.write()) {
                    t.writeBar(a.offset(), data);
                } else {
                    t.readBar(a.offset(), data);
                }
            }
            assertEquals(0, t.counters().internalErrors(), t.counters().lastRefusal());
            PciDriver d = new PciDriver(t);
            d.cfgWrite(dev.vhostnet.sys.PciUapi.PCI_COMMAND, 2, 0);
            d.assignBar(0xe000_0000L);
            d.findCapabilities();
            d.enableMsix(0xfee0_0000L, 0x40);
            assertTrue(d.negotiate(-1L), "a correct driver is served after any traffic: " + t.counters());
            d.setUpQueues(0x10000);
            assertEquals(0, t.counters().internalErrors(), t.counters().lastRefusal());
        }
    }
}
