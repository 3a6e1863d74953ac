package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** TapInfo reads what the kernel shows, and delete removes a persistent tap. */
class TapInfoTest {
    @Test
    void aPersistentTapIsListedWithItsFlagsOwnerQueuesAndLinkSettingsUntilDeleted() throws Exception {
        Privileges.assumeTaps();
        String name = Names.random("vi");
        MacAddress mac = MacAddress.parse("02:00:00:aa:bb:cc");
        TapConfig config = TapConfig.builder()
                .name(name)
                .queues(2)
                .vnetHeader(12)
                .persistent(true)
                .owner(1000)
                .group(100)
                .mtu(1400)
                .mac(mac)
                .up(true)
                .build();
        try (TapDevice tap = TapDevice.open(config)) {
            TapInfo info = TapInfo.read(name).orElseThrow();
            assertEquals(List.of("tap", "persist", "vnet_hdr", "multi_queue"), info.flagNames());
            assertEquals(OptionalInt.of(1000), info.owner());
            assertEquals(OptionalInt.of(100), info.group());
            assertEquals(2, info.queues());
            assertEquals(1400, info.mtu());
            assertEquals(mac, info.mac());
            assertEquals(Optional.empty(), info.master());
        } catch (Exception | Error e) {
            TapDevice.delete(name);
            throw e;
        }
        assertTrue(TapInfo.list().stream().anyMatch(t -> t.name().equals(name)), "outlives its fds");
        assertEquals(0, TapInfo.read(name).orElseThrow().queues(), "no queue attached once its fds are closed");
        TapDevice.delete(name);
        assertFalse(Command.hostHasLink(name));
        assertEquals(Optional.empty(), TapInfo.read(name));
    }

    @Test
    void aSingleQueueTapCountsItsQueueOnlyWhileAttached() throws Exception {
        Privileges.assumeTaps();
        String name = Names.random("vi");
        try {
            try (TapDevice tap = TapDevice.open(
                    TapConfig.builder().name(name).persistent(true).build())) {
                assertEquals(1, TapInfo.read(name).orElseThrow().queues(), "attached, down");
            }
            assertEquals(0, TapInfo.read(name).orElseThrow().queues(), "none attached, down");
        } finally {
            TapDevice.delete(name);
        }
    }

    @Test
    void loopbackIsNoTapAndDeletingAMissingTapSaysSo() throws Exception {
        assertEquals(Optional.empty(), TapInfo.read("lo"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TapDevice.delete("vi-none"));
        assertTrue(e.getMessage().contains("no tap named vi-none"), e.getMessage());
    }

    @Test
    void attachingToAMissingBridgeSaysHowToMakeIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Bridge.attach("lo", "vi-nobr"));
        assertTrue(e.getMessage().contains("ip link add vi-nobr type bridge"), e.getMessage());
    }
}
