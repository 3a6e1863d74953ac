package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.SysException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The step-down policy against a fake {@code TUNSETOFFLOAD} that refuses flags an older kernel lacks. */
class OffloadNegotiationTest {
    private static final Set<Offload> ALL = EnumSet.allOf(Offload.class);

    /** Records each call and refuses any flag outside {@code known} with {@code errno}. */
    private static OffloadNegotiation.Setter kernel(int known, Errno errno, List<Integer> calls) {
        return flags -> {
            calls.add(flags);
            if ((flags & ~known) != 0) {
                throw new SysException("ioctl TUNSETOFFLOAD on /dev/net/tun", errno.number(), null);
            }
        };
    }

    @Test
    void takesEverythingAtOnceWhenTheKernelKnowsEveryFlag() throws Exception {
        List<Integer> calls = new ArrayList<>();
        OffloadNegotiation.Result r = OffloadNegotiation.negotiate(ALL, kernel(0x7f, Errno.EINVAL, calls));
        assertEquals(ALL, r.accepted());
        assertEquals(Set.of(), r.refused());
        assertEquals(List.of(0x7f), calls);
    }

    @Test
    void dropsUsoFirstOnAKernelOlderThanSixTwo() throws Exception {
        List<Integer> calls = new ArrayList<>();
        OffloadNegotiation.Result r = OffloadNegotiation.negotiate(ALL, kernel(0x1f, Errno.EINVAL, calls));
        assertEquals(EnumSet.of(Offload.USO4, Offload.USO6), r.refused());
        assertEquals(List.of(0x7f, 0x1f), calls);
    }

    @Test
    void thenDropsUfoOnAKernelThatRefusesIt() throws Exception {
        List<Integer> calls = new ArrayList<>();
        OffloadNegotiation.Result r = OffloadNegotiation.negotiate(ALL, kernel(0x0f, Errno.EINVAL, calls));
        assertEquals(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6, Offload.TSO_ECN), r.accepted());
        assertEquals(EnumSet.of(Offload.UFO, Offload.USO4, Offload.USO6), r.refused());
        assertEquals(List.of(0x7f, 0x1f, 0x0f), calls);
    }

    @Test
    void failsWhenEvenTheBaseFlagsAreRefused() {
        SysException e = assertThrows(
                SysException.class,
                () -> OffloadNegotiation.negotiate(
                        EnumSet.of(Offload.CSUM, Offload.UFO), kernel(0, Errno.EINVAL, new ArrayList<>())));
        assertTrue(e.is(Errno.EINVAL));
        assertTrue(e.getMessage().contains("refused offloads [CSUM] (after dropping [UFO])"), e.getMessage());
    }

    @Test
    void doesNotStepDownOnAnErrorOtherThanEinval() {
        List<Integer> calls = new ArrayList<>();
        SysException e = assertThrows(
                SysException.class, () -> OffloadNegotiation.negotiate(ALL, kernel(0, Errno.EPERM, calls)));
        assertTrue(e.is(Errno.EPERM));
        assertEquals(1, calls.size());
    }
}
