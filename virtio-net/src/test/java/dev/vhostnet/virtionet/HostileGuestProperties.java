package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_ERR;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_OK;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.virtionet.VirtioNetCounters.Refusal;
import java.util.EnumSet;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * A hostile guest at both transports of a running {@link VirtioNetDevice} (emulated backend, a tap
 * of two queues with no peer): random control commands are each answered, {@code VIRTIO_NET_OK}
 * exactly when the device counted a success and {@code VIRTIO_NET_ERR} exactly when it counted a
 * refusal; random register traffic never throws into the caller (the VMM's exit loop) nor counts an
 * internal error; and after either, a correct driver brings the device up again.
 *
 * <p>Each try opens its own tap: jqwik shrinks a failure on another thread and, past its time
 * bound, goes on to the next property while that thread still runs tries; a tap shared between
 * them made the second property fail on the first one's queue state.
 */
class HostileGuestProperties {
    private static final EnumSet<Refusal> CONTROL = EnumSet.of(
            Refusal.CTRL_TOO_LONG,
            Refusal.CTRL_CLASS,
            Refusal.CTRL_COMMAND,
            Refusal.CTRL_LENGTH,
            Refusal.CTRL_PAIRS,
            Refusal.CTRL_MAC_TABLE,
            Refusal.CTRL_MAC_ADDR,
            Refusal.CTRL_OFFLOADS,
            Refusal.CTRL_ANNOUNCE,
            Refusal.CTRL_BACKEND);

    private static TapDevice tap() throws Exception {
        return TapDevice.open(TapConfig.builder()
                .name(Names.random("vp"))
                .queues(2)
                .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                .build());
    }

    record Command(int cls, int cmd, byte[] payload) {}

    @Provide
    Arbitrary<Command> commands() {
        Arbitrary<byte[]> payloads = Arbitraries.oneOf(
                Arbitraries.bytes().array(byte[].class).ofMaxSize(24),
                Arbitraries.of(
                        new byte[] {1},
                        new byte[] {0},
                        new byte[] {2, 0},
                        new byte[] {1, 0},
                        new byte[] {3, 0},
                        new byte[] {0x52, 0x54, 0, 1, 2, 3},
                        new byte[] {1, 0, 0, 0, 0, 0},
                        new byte[] {1, 0, 0, 0, 0x52, 0x54, 0, 1, 2, 3, 0, 0, 0, 0},
                        new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f},
                        new byte[] {3, 0, 0, 0, 0, 0, 0, 0},
                        new byte[] {(byte) 0x80, 7, 0, 0, 0, 0, 0, 0},
                        new byte[0]));
        return Combinators.combine(
                        Arbitraries.integers().between(0, 7),
                        Arbitraries.integers().between(0, 6),
                        payloads)
                .as(Command::new);
    }

    @Property(tries = 50)
    void everyControlCommandIsAnsweredAndEveryRefusalCounted(
            @ForAll Registers.Kind transport, @ForAll @Size(max = 40) List<@From("commands") Command> commands)
            throws Exception {
        try (TapDevice tap = tap();
                MemoryTable memory =
                        MemoryTable.builder().region(0, NetGuest.RAM).build();
                VirtioNetDevice device = device(memory, tap);
                Registers regs = Registers.open(transport, device, memory)) {
            NetGuest guest = NetGuest.probe(regs, memory, -1L, NetGuest.DRIVER_BASE);
            int ok = 0;
            int err = 0;
            for (Command c : commands) {
                int reply = guest.command(c.cls(), c.cmd(), c.payload());
                assertTrue(reply == VIRTIO_NET_OK || reply == VIRTIO_NET_ERR, "reply " + reply + " to " + c);
                ok += reply == VIRTIO_NET_OK ? 1 : 0;
                err += reply == VIRTIO_NET_ERR ? 1 : 0;
            }
            assertEquals(ok, device.counters().commandsOk(), device.counters().toString());
            assertEquals(
                    err,
                    CONTROL.stream().mapToLong(r -> device.counters().get(r)).sum(),
                    device.counters().toString());
            assertEquals(VIRTIO_NET_OK, guest.setQueuePairs(2), "the control queue still serves: " + device.counters());
            assertEquals(0, regs.counters().internalErrors(), regs.counters().lastRefusal());
        }
    }

    /** One access: region (0 mmio window / PCI config space, 1 BAR0), offset, size, value, read or write. */
    record Access(int region, long offset, int size, long value, boolean write) {}

    @Provide
    Arbitrary<Access> accesses() {
        Arbitrary<Long> offsets = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 0x120).map(o -> o & ~3L),
                Arbitraries.longs().between(0x100, 0x120),
                Arbitraries.longs().between(0, 0x40).map(o -> o & ~1L),
                Arbitraries.longs().between(0x2000, 0x2020),
                Arbitraries.longs().between(-16, 0x8010));
        Arbitrary<Long> values = Arbitraries.oneOf(
                Arbitraries.longs(),
                Arbitraries.longs().between(0, 16),
                Arbitraries.of(0L, 1L, 3L, 0xbL, 0xfL, 0xffffL, 0xffff_ffffL, 0x10000L, 0x100000L, 0x40L));
        return Combinators.combine(
                        Arbitraries.integers().between(0, 1),
                        offsets,
                        Arbitraries.of(1, 2, 4, 4, 4, 8, 3),
                        values,
                        Arbitraries.of(true, true, false))
                .as(Access::new);
    }

    @Property(tries = 50)
    void randomRegisterTrafficNeverEscapesAndACorrectDriverStartsAgain(
            @ForAll Registers.Kind transport, @ForAll @Size(max = 200) List<@From("accesses") Access> traffic)
            throws Exception {
        try (TapDevice tap = tap();
                MemoryTable memory =
                        MemoryTable.builder().region(0, NetGuest.RAM).build();
                VirtioNetDevice device = device(memory, tap);
                Registers regs = Registers.open(transport, device, memory)) {
            NetGuest.probe(regs, memory, -1L, NetGuest.DRIVER_BASE);
            for (Access a : traffic) {
                regs.raw(a.region(), a.offset(), Registers.le(a.value(), a.size()), a.write());
            }
            assertEquals(0, regs.counters().internalErrors(), regs.counters().lastRefusal());
            regs.firmware();
            NetGuest again = NetGuest.probe(regs, memory, -1L, NetGuest.DRIVER_BASE);
            assertEquals(
                    VIRTIO_NET_OK,
                    again.setQueuePairs(2),
                    "the device serves a correct driver after the traffic: " + device.counters() + " "
                            + regs.counters());
            assertEquals(0, regs.counters().internalErrors(), regs.counters().lastRefusal());
        }
    }

    private static VirtioNetDevice device(MemoryTable memory, TapDevice tap) throws Exception {
        return VirtioNetDevice.builder()
                .memory(memory)
                .tap(tap)
                .backend(BackendChoice.Policy.EMULATED)
                .mac(MacAddress.parse("52:54:00:12:34:56"))
                .build();
    }
}
