package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.TunUapi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Taps made in the host namespace, each with a random name, removed at the end of each test. */
class TapDeviceTest {
    @BeforeEach
    void needsRootAndTun() {
        Privileges.assumeTaps();
    }

    private static Path sys(String name, String attribute) {
        return Path.of("/sys/class/net", name, attribute);
    }

    @Test
    void theKernelFillsInANamePattern() throws Exception {
        String prefix = Names.random("v");
        try (TapDevice tap =
                TapDevice.open(TapConfig.builder().name(prefix + "%d").build())) {
            assertTrue(tap.name().matches(prefix + "\\d+"), tap.name());
            assertEquals(tap.name(), tap.queue(0).tapName());
            assertTrue(Command.hostHasLink(tap.name()));
        }
    }

    @Test
    void closingANonPersistentTapRemovesIt() throws Exception {
        String name = Names.random("vt");
        TapDevice tap = TapDevice.open(TapConfig.builder().name(name).build());
        assertTrue(Files.exists(sys(name, "tun_flags")));
        tap.close();
        assertFalse(Files.exists(sys(name, "tun_flags")), "the tap went with its last fd");
        assertFalse(Command.hostHasLink(name));
    }

    @Test
    void aPersistentTapOutlivesItsFdsWithItsOwnerUntilPersistIsCleared() throws Exception {
        String name = Names.random("vt");
        try {
            TapConfig config = TapConfig.builder()
                    .name(name)
                    .persistent(true)
                    .owner(65534)
                    .group(65534)
                    .build();
            try (TapDevice tap = TapDevice.open(config)) {
                assertEquals(TunUapi.IFF_PERSIST, tap.getIff() & TunUapi.IFF_PERSIST);
            }
            assertTrue(Command.hostHasLink(name), "still in ip link after close");
            assertEquals("65534", Files.readString(sys(name, "owner")).trim());
            assertEquals("65534", Files.readString(sys(name, "group")).trim());
            String details = Command.run("ip", "-d", "link", "show", "dev", name);
            assertTrue(details.contains("persist on"), details);

            try (TapDevice again = TapDevice.open(TapConfig.builder().name(name).build())) {
                again.setPersist(false);
            }
            assertFalse(Command.hostHasLink(name), "removed once no longer persistent and closed");
        } finally {
            if (Command.hostHasLink(name)) {
                Command.run("ip", "link", "del", "dev", name);
            }
        }
    }

    @Test
    void mtuMacAndUpAreWhatIpLinkShows() throws Exception {
        MacAddress mac = MacAddress.parse("02:00:5e:10:00:07");
        try (TapDevice tap = TapDevice.open(TapConfig.builder()
                        .name(Names.random("vt"))
                        .mtu(9000)
                        .mac(mac)
                        .up(true)
                        .build());
                NetInterface link = NetInterface.open(tap.name())) {
            String shown = Command.run("ip", "link", "show", "dev", tap.name());
            assertTrue(shown.contains("mtu 9000"), shown);
            assertTrue(shown.contains("link/ether " + mac), shown);
            assertTrue(shown.matches("(?s).*<[^>]*\\bUP\\b[^>]*>.*"), shown);
            assertEquals(9000, link.mtu());
            assertEquals(mac, link.mac());
            assertTrue(link.isUp());
            assertEquals(
                    Integer.parseInt(
                            Files.readString(sys(tap.name(), "ifindex")).trim()),
                    link.index());

            link.setUp(false);
            link.setMtu(1400);
            assertFalse(link.isUp());
            assertTrue(Command.run("ip", "link", "show", "dev", tap.name()).contains("mtu 1400"));
        }
    }

    /**
     * Also run in the test VM (tagged as the tests it runs): its Debian 6.1 kernel refuses USO, so
     * there the step-down of {@link OffloadNegotiation} meets a real {@code TUNSETOFFLOAD} refusal.
     */
    @Test
    @Tag("vhost-net")
    void theVnetHeaderAndOffloadsAreWhatTheKernelReportsBack() throws Exception {
        try (TapDevice tap = TapDevice.open(TapConfig.builder()
                .name(Names.random("vt"))
                .vnetHeader(10)
                .offloads(Offload.values())
                .build())) {
            int iff = tap.getIff();
            assertEquals(
                    TunUapi.IFF_TAP | TunUapi.IFF_NO_PI | TunUapi.IFF_VNET_HDR,
                    iff & (TunUapi.IFF_TAP | TunUapi.IFF_NO_PI | TunUapi.IFF_VNET_HDR | TunUapi.IFF_MULTI_QUEUE));
            assertEquals(10, tap.getVnetHdrSz());
            EnumSet<Offload> uso = EnumSet.of(Offload.USO4, Offload.USO6);
            boolean takesUso = kernelAtLeast(6, 2); // TUN_F_USO4, TUN_F_USO6: Linux 6.2
            assertEquals(
                    takesUso ? EnumSet.allOf(Offload.class) : EnumSet.complementOf(uso),
                    tap.offloads(),
                    "kernel " + System.getProperty("os.version")
                            + ": USO refused and stepped down from, the rest kept");
            assertEquals(takesUso ? EnumSet.noneOf(Offload.class) : uso, tap.refusedOffloads());
            assertEquals(10, tap.endpoint(0).vnetHeaderSize());
            tap.setVnetHdrSz(12);
            assertEquals(12, tap.getVnetHdrSz());
            assertEquals(12, tap.endpoint(0).vnetHeaderSize());
            assertEquals(EnumSet.of(Offload.CSUM), tap.setOffloads(EnumSet.of(Offload.CSUM)));
        }
    }

    /** Whether this kernel ({@code os.version}, such as {@code 6.1.0-28-amd64}) is {@code major.minor} or newer. */
    private static boolean kernelAtLeast(int major, int minor) {
        Matcher m = Pattern.compile("(\\d+)\\.(\\d+)").matcher(System.getProperty("os.version"));
        assertTrue(m.lookingAt(), System.getProperty("os.version"));
        int found = Integer.parseInt(m.group(1));
        return found > major || found == major && Integer.parseInt(m.group(2)) >= minor;
    }

    @Test
    void closeIsIdempotentAndAClosedQueueRefusesUse() throws Exception {
        TapDevice tap =
                TapDevice.open(TapConfig.builder().name(Names.random("vt")).build());
        TapQueue queue = tap.queue(0);
        assertTrue(queue.rawFd() >= 0);
        tap.close();
        tap.close();
        assertFalse(queue.isOpen());
        assertThrows(IllegalStateException.class, queue::rawFd);
        assertThrows(IllegalStateException.class, tap::getIff);
    }
}
