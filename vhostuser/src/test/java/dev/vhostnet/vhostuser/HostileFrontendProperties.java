package dev.vhostnet.vhostuser;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Front-ends that send anything: request ids known and unknown, payloads of the right size with any
 * content or of any size, fds missing, surplus or of the wrong kind, after a correct bring-up (so
 * the device runs and is stopped, restarted and re-pointed under it) or from nothing, on a tap of two
 * queues (so vring indices 0-3 are valid, and an enable or a change of pair 1 restarts the device on
 * one pair or two, detaching or attaching the tap's second queue). Whatever comes,
 * the back-end either handles a request or refuses it with a {@link VhostUserException} naming it —
 * nothing else escapes — and once the connection ends no descriptor is left open.
 */
class HostileFrontendProperties {
    static final long RAM = 1 << 20;
    /** The front-end's address of guest RAM, as QEMU's would be. */
    static final long UVA = 0x7f00_0000_0000L;

    static final int[] IDS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 24, 25, 36, 0, 99};

    static TapDevice tap;

    /** One request as sent: id, payload, and how many fds (eventfds, or memfds for a memory table) come with it. */
    record Sent(int id, byte[] payload, int fds, boolean memfd) {}

    @BeforeContainer
    static void openTap() throws Exception {
        tap = TapDevice.open(TapConfig.builder()
                .name("vuh" + ProcessHandle.current().pid())
                .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                .queues(2)
                .build());
    }

    @AfterContainer
    static void closeTap() {
        tap.close();
    }

    @Property(tries = 1000)
    void anyRequestSequenceIsHandledOrRefusedByNameAndLeaksNothing(
            @ForAll("bringUp") boolean bringUp, @ForAll("requests") List<Sent> requests) throws Exception {
        EmulatedLoops.shared(); // the shared event loops keep their fds for the life of the process: made first
        Set<Integer> before = OpenFds.snapshot();
        long offer = VhostUserNetBackendTest.FEATURES | VirtioFeature.PROTOCOL_FEATURES.mask();
        List<Sent> all = new ArrayList<>(bringUp ? bringUpSequence() : List.of());
        all.addAll(requests);
        int ran = 0;
        boolean refused = false;
        try (BackendSession session = new BackendSession(tap, FeatureSet.of(offer), "hostile")) {
            for (Sent s : all) {
                try (FrontendRequest r = request(s)) {
                    session.handle(r);
                } catch (VhostUserException e) {
                    refused = true;
                    break;
                }
                ran = Math.max(ran, session.servedPairs());
            }
        }
        Statistics.label("outcome")
                .collect((ran > 0 ? "device ran on " + ran + " of 2 pairs, then " : "")
                        + (refused ? "refused" : "all handled"));
        // The JVM opens files of its own now and then (cgroup statistics): leakedSince lets them close.
        assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
    }

    @Provide
    Arbitrary<Boolean> bringUp() {
        return Arbitraries.of(true, false);
    }

    @Provide
    Arbitrary<List<Sent>> requests() {
        Arbitrary<Sent> sent = Combinators.combine(
                        Arbitraries.integers().between(0, IDS.length - 1),
                        Arbitraries.integers().between(0, 3),
                        Arbitraries.bytes().array(byte[].class).ofMaxSize(48),
                        Arbitraries.integers().between(0, 2),
                        Arbitraries.of(true, false))
                .as((k, shape, random, fds, memfd) -> new Sent(IDS[k], payload(IDS[k], shape, random), fds, memfd));
        return sent.list().ofMinSize(1).ofMaxSize(10);
    }

    /** Shape 0: random bytes of random length; 1-3: the size the request's kind has, with small or random values. */
    private static byte[] payload(int id, int shape, byte[] random) {
        if (shape == 0) {
            return random;
        }
        int size = switch (id) {
            case 9 -> VhostUserMessage.VRING_ADDR_SIZE;
            case 5 -> VhostUserMessage.MEM_HEADER_SIZE + VhostUserMessage.MEM_REGION_SIZE;
            case 1, 3, 4, 15, 17, 36 -> 0;
            default -> VhostUserMessage.U64_SIZE;
        };
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(size).order(java.nio.ByteOrder.nativeOrder());
        for (int i = 0; b.remaining() >= 4; i++) {
            int small = i < random.length ? random[i] & 0x3 : 0;
            int value = shape == 1
                    ? small
                    : shape == 2 ? 1 << (small * 4) : (i < random.length ? random[i] * 0x01010101 : 0);
            b.putInt(id == 5 && i == 0 ? 1 : value);
        }
        return b.array();
    }

    /** The requests QEMU sends to start the device: features, protocol, memory, the vrings of both pairs, enable. */
    private static List<Sent> bringUpSequence() {
        long features = VhostUserNetBackendTest.FEATURES | VirtioFeature.PROTOCOL_FEATURES.mask();
        List<Sent> s = new ArrayList<>();
        s.add(new Sent(1, new byte[0], 0, false));
        s.add(new Sent(
                16, VhostUserMessage.u64(VhostUserProtocolFeature.mask(BackendSession.PROTOCOL_OFFER)), 0, false));
        s.add(new Sent(3, new byte[0], 0, false));
        s.add(new Sent(2, VhostUserMessage.u64(features), 0, false));
        s.add(new Sent(5, VhostUserMessage.memTable(List.of(new VhostUserMessage.MemRegion(0, RAM, UVA, 0))), 1, true));
        for (int v = 0; v < 4; v++) {
            long base = UVA + 0x10000L * (v + 1);
            s.add(new Sent(8, VhostUserMessage.vringState(v, 256), 0, false));
            s.add(new Sent(10, VhostUserMessage.vringState(v, 0), 0, false));
            s.add(new Sent(9, VhostUserMessage.vringAddr(v, 0, base, base + 0x2000, base + 0x1000, 0), 0, false));
            s.add(new Sent(12, VhostUserMessage.vringFile(v, false), 1, false));
            s.add(new Sent(13, VhostUserMessage.vringFile(v, false), 1, false));
        }
        for (int v = 0; v < 4; v++) {
            s.add(new Sent(18, VhostUserMessage.vringState(v, 1), 0, false));
        }
        return s;
    }

    /** The request as the connection would have read it, with fresh fds of the kind asked for. */
    private static FrontendRequest request(Sent s) throws SysException {
        List<Fd> fds = new ArrayList<>();
        for (int i = 0; i < s.fds(); i++) {
            if (s.memfd()) {
                Fd memfd = Syscalls.memfdCreate("hostile-ram", 0);
                fds.add(memfd);
                memfd.truncate(RAM);
            } else {
                fds.add(Syscalls.eventfd(0, 0));
            }
        }
        return new FrontendRequest(s.id(), VhostUserMessage.VERSION, s.payload(), fds);
    }
}
