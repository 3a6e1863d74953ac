package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.testkit.NetNamespace;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bring-ups the kernel refuses part-way: each names the step and the fix, and leaves no fd open. */
class TapFailureTest {
    @BeforeEach
    void needsRootAndTun() {
        Privileges.assumeTaps();
    }

    @Test
    void aSecondOpenOfASingleQueueTapFailsWithEbusyAndLeaksNothing() throws Exception {
        String name = Names.random("vt");
        TapConfig config = TapConfig.builder().name(name).build();
        try (TapDevice first = TapDevice.open(config)) {
            Set<Integer> before = OpenFds.snapshot();
            SysException e = assertThrows(SysException.class, () -> TapDevice.open(config));
            assertTrue(e.is(Errno.EBUSY), e.getMessage());
            assertTrue(
                    e.getMessage().startsWith("ioctl TUNSETIFF on /dev/net/tun (queue 0 of tap " + name + "): EBUSY"),
                    e.getMessage());
            assertTrue(e.hint().contains("not multiqueue"), e.hint());
            assertEquals("", OpenFds.leakedSince(before));
            assertTrue(first.queue(0).isOpen());
        }
    }

    @Test
    void aFailureAtTheSeventhQueueClosesTheSixOpenedBeforeIt() throws Exception {
        String name = Names.random("vt");
        try (TapDevice holder =
                TapDevice.open(TapConfig.builder().name(name).queues(250).build())) {
            TapConfig config = TapConfig.builder().name(name).queues(10).build();
            Set<Integer> before = OpenFds.snapshot();
            SysException e = assertThrows(SysException.class, () -> TapDevice.open(config));
            assertTrue(e.is(Errno.E2BIG), e.getMessage());
            assertTrue(e.getMessage().contains("(queue 6 of tap " + name + ")"), e.getMessage());
            assertTrue(e.hint().contains("at most 256 queues"), e.hint());
            assertEquals("", OpenFds.leakedSince(before));
            assertTrue(
                    Command.run("ip", "-d", "link", "show", "dev", name).contains("numqueues 250 "),
                    "the other holder's queues are untouched");
            assertTrue(holder.queue(249).isAttached());
        }
    }

    @Test
    void aRefusedMtuClosesEverythingAndRemovesTheHalfMadePersistentTap() throws Exception {
        String name = Names.random("vt");
        TapConfig config = TapConfig.builder()
                .name(name)
                .queues(3)
                .persistent(true)
                .mtu(65535)
                .build();
        Set<Integer> before = OpenFds.snapshot();
        try {
            SysException e = assertThrows(SysException.class, () -> TapDevice.open(config));
            assertTrue(e.is(Errno.EINVAL), e.getMessage());
            assertTrue(
                    e.getMessage().startsWith("ioctl SIOCSIFMTU on socket (interface " + name + "): EINVAL"),
                    e.getMessage());
            assertTrue(e.hint().contains("maxmtu"), e.hint());
            assertEquals("", OpenFds.leakedSince(before));
            assertFalse(Command.hostHasLink(name), "persistence set by the failed bring-up is undone");
        } finally {
            if (Command.hostHasLink(name)) {
                Command.run("ip", "link", "del", "dev", name);
            }
        }
    }

    @Test
    void aNameTakenByAnInterfaceThatIsNotATapIsRefusedWithEinval() throws Exception {
        Privileges.assumeNamespaces();
        try (NetNamespace ns = NetNamespace.create()) {
            Set<Integer> before = OpenFds.snapshot();
            SysException e = assertThrows(
                    SysException.class,
                    () -> ns.call(
                            () -> TapDevice.open(TapConfig.builder().name("lo").build())));
            assertTrue(e.is(Errno.EINVAL), e.getMessage());
            assertTrue(e.hint().contains("an interface named lo exists"), e.hint());
            assertEquals("", OpenFds.leakedSince(before));
        }
    }
}
