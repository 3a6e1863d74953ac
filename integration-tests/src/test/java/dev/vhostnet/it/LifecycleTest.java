package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.receiveUdpTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.kernel.DirtyLog;
import dev.vhostnet.ctl.kernel.VhostNetDevice;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Stopping and restarting a running vhost-net device, and its dirty page log. */
@Tag("vhost-net")
class LifecycleTest {
    private static final int FRAMES = 3000;

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void closingGuestMemoryUnderARunningDeviceFailsNamingTheDevice(BackendChoice.Kind kind) throws Exception {
        NetFixture.assumeBackend(kind);
        try (NetFixture k = NetFixture.start(kind, 1, FEATURES)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, k.memory::close);
            String device = (kind == BackendChoice.Kind.KERNEL ? "vhost-net" : "emulated") + " device on tap "
                    + k.net.tap.name();
            assertTrue(
                    e.getMessage().startsWith("guest memory is still used by " + device + ": close them first"),
                    e.getMessage());
            assertTrue(k.memory.isOpen(), "nothing was unmapped under the device");
            assertEquals(NetDevice.State.RUNNING, k.device.state());
            k.device.close();
            assertEquals(NetDevice.State.CLOSED, k.device.state());
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void stopUnderTrafficAndRestartFromTheSavedBasesLosesAndRepeatsNothing(BackendChoice.Kind kind) throws Exception {
        NetFixture.assumeBackend(kind);
        try (NetFixture k = NetFixture.start(kind, 1, FEATURES);
                DatagramSocket socket = k.net.socket();
                SequencedTraffic traffic = new SequencedTraffic(k, socket, FRAMES)) {
            traffic.awaitReceived(FRAMES / 3);
            VringBases bases = k.device.stop();
            assertEquals(NetDevice.State.STOPPED, k.device.state());
            int atStop = traffic.received();
            assertTrue(
                    bases.get(0, QueuePair.TX) >= atStop,
                    "the TX base " + bases.get(0, QueuePair.TX) + " counts at least the " + atStop
                            + " frames delivered");

            k.net.addGuestNeighbour();
            try (DatagramSocket toGuest = k.net.socket()) {
                for (int i = 0; i < 20; i++) {
                    TapInNamespace.sendToGuest(toGuest, 7000, payload(i, 32));
                }
            }
            k.device.restart();
            traffic.assertAllArrivedOnceInOrder();
            for (int i = 0; i < 20; i++) {
                assertArrayEquals(
                        payload(i, 32),
                        EthernetFrames.udpPayload(receiveUdpTo(k, 0, 7000).frame(), 0),
                        "datagram " + i + " sent to the guest while the device was stopped");
            }
            assertTrue(k.receive(0, 300).isEmpty(), "no datagram twice");
        }
    }

    @Test
    void theDirtyLogMarksThePagesVhostWroteAndNoOther() throws Exception {
        NetFixture.assumeVhostNet();
        try (NetFixture k = NetFixture.start(
                        BackendChoice.Kind.KERNEL, 1, FEATURES, NetFixture.BUFFER, c -> c.dirtyLog(true));
                DatagramSocket socket = k.net.socket()) {
            k.net.addGuestNeighbour();
            DirtyLog log = ((VhostNetDevice) k.device).dirtyLog();
            log.fetchAndClear();
            byte[] sent = payload(9, 1400);
            TapInNamespace.sendToGuest(socket, 7100, sent);
            assertArrayEquals(
                    sent, EthernetFrames.udpPayload(receiveUdpTo(k, 0, 7100).frame(), 0));

            DriverMemory.QueuePair pair = k.layout.queuePair(0);
            long rxBuffersEnd = pair.rxBuffersGpa() + (long) pair.bufferCount() * pair.bufferSize();
            List<Long> dirty = log.dirtyPages();
            assertTrue(log.isDirty(pair.rx().usedGpa()), "the RX used ring vhost wrote is dirty: " + dirty);
            assertTrue(
                    dirty.stream().anyMatch(p -> p >= pair.rxBuffersGpa() && p < rxBuffersEnd),
                    "an RX buffer page vhost wrote the datagram into is dirty: " + dirty);
            long usedPage = pair.rx().usedGpa() & -4096L;
            for (long page : dirty) {
                assertTrue(
                        page == usedPage || (page >= pair.rxBuffersGpa() && page < rxBuffersEnd),
                        "page 0x" + Long.toHexString(page)
                                + " is dirty, but vhost wrote only the RX used ring and RX buffers");
            }
            assertFalse(log.isDirty(pair.txBuffersGpa()), "TX buffers were not written by vhost");
            assertFalse(log.isDirty(NetFixture.RAM - 4096), "an untouched page is clean");
        }
    }
}
