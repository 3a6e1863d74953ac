package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.receiveUdpTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.lang.management.ManagementFactory;
import java.net.DatagramSocket;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The emulated backend when the guest breaks a queue or an fd its loop watches fails: the pair
 * stops with a reason, its event loop goes idle (CPU time over a second, not speed, is what is
 * bounded), a restart serves the queue again, and closing leaves no descriptor behind.
 */
class EmulatedFaultsTest {
    /** Loop CPU over a second that counts as idle: an event loop spinning on a level-triggered fd takes ~1000 ms. */
    static final long IDLE_CPU_MILLIS = 200;

    static final int FRAMES_WAITING = 8;

    @Test
    void anRxKickOnABrokenRxQueueWithFramesInTheTapLeavesTheLoopIdle() throws Exception {
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            breakRxQueueWithFramesWaiting(k, socket);
            k.queues.get(0).kick().signal();

            long cpu = loopCpuMillisOverASecond(device, 0);
            assertTrue(
                    cpu < IDLE_CPU_MILLIS,
                    "the loop of a pair with a broken RX queue took " + cpu + " ms of CPU in a second");
            assertTrue(device.isBroken(0), "the RX queue stays broken until a restart");
            String failure = device.failure(0).orElseThrow();
            assertTrue(
                    failure.startsWith("queue 0 (RX) broken by the driver") && failure.contains("names head 65535"),
                    failure);
        }
    }

    @Test
    void aStopAndRestartServesABrokenRxQueueAgain() throws Exception {
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            breakRxQueueWithFramesWaiting(k, socket);

            device.stop();
            device.restart();
            long cpu = loopCpuMillisOverASecond(device, 0);
            assertFalse(device.isBroken(0), "a restart clears the broken state (virtio's device reset)");
            assertEquals(Optional.empty(), device.failure(0));
            TapInNamespace.sendToGuest(socket, 7602, payload(99, 50));
            assertArrayEquals(
                    payload(99, 50),
                    EthernetFrames.udpPayload(receiveUdpTo(k, 0, 7602).frame(), 0),
                    "frames reach the RX queue again");
            assertTrue(cpu < IDLE_CPU_MILLIS, "the loop took " + cpu + " ms of CPU in a second after the restart");
        }
    }

    @Test
    void aDeviceStartedOnAnRxRingItMustRefuseStaysIdleWithFramesInTheTap() throws Exception {
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            k.device.close();
            k.device = NetDevices.start(k.config, Kind.EMULATED, VringBases.of(1000, 0));
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            k.net.addGuestNeighbour();
            for (int i = 0; i < FRAMES_WAITING; i++) {
                TapInNamespace.sendToGuest(socket, 7601, payload(i, 50));
            }

            long cpu = loopCpuMillisOverASecond(device, 0);
            assertTrue(device.isBroken(0), "base 1000 with used index 0 cannot come from a working driver");
            assertTrue(
                    cpu < IDLE_CPU_MILLIS, "the loop of a pair started broken took " + cpu + " ms of CPU in a second");
        }
    }

    @Test
    void aTapDeletedUnderARunningDeviceFailsThePairWithTheReasonAndLeavesTheLoopIdle() throws Exception {
        Set<Integer> before = settledFds();
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES)) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            String tap = k.net.tap.name();
            k.net.ns.ip("link", "delete", tap);

            long cpu = loopCpuMillisOverASecond(device, 0);
            assertTrue(
                    cpu < IDLE_CPU_MILLIS,
                    "the loop of a pair whose tap is gone took " + cpu + " ms of CPU in a second");
            assertEquals(Optional.of("tap " + tap + " queue 0 reports EPOLLERR"), device.failure(0));
            assertFalse(device.isBroken(0), "the driver broke nothing");
        }
        assertNothingLeftOpenSince(before);
    }

    @Test
    void aKickEventfdClosedUnderARunningLoopIsAnErrorToItsUserOnlyAndItsNumberReusedIsNotTheDevices() throws Exception {
        Set<Integer> before = settledFds();
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket();
                EventFd doorbell = EventFd.adopt(k.queues.get(1).kick().fd().dup())) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            EventFd kick = k.queues.get(1).kick();
            int number = kick.fd().get();
            kick.close(); // doorbell: the reference a KVM ioeventfd keeps
            try (EventFd stranger = EventFd.create()) {
                assumeTrue(stranger.fd().get() == number, "the kernel gave the closed kick's number to another file");
                device.stop();
                device.restart();
                long cpu = loopCpuMillisOverASecond(device, 0);
                stranger.signal();

                VirtioNetDriver driver = k.driver(0);
                byte[] frame = DataPathTest.frameTo(k, socket.getLocalPort(), 40000, payload(5, 80));
                assertTrue(driver.enqueue(VirtioNetHeader.NONE, frame, 0, frame.length));
                IllegalStateException closed = assertThrows(IllegalStateException.class, driver::flush);
                assertTrue(closed.getMessage().endsWith("is closed"), closed.getMessage());
                doorbell.signal();
                assertArrayEquals(
                        payload(5, 80),
                        TapInNamespace.receive(socket),
                        "the device holds its own reference to the kick, as vhost does: a signal through another is served");
                assertEquals(1, stranger.await(0), "the file now at the kick's old number was not read by the device");
                assertEquals(Optional.empty(), device.failure(0));
                assertTrue(cpu < IDLE_CPU_MILLIS, "the loop took " + cpu + " ms of CPU in a second");
            }
        }
        assertNothingLeftOpenSince(before);
    }

    /**
     * Names head 0xffff in every entry of the RX available ring, sends a datagram so the device
     * pops one, waits for the queue to break, puts the ring back as it was, and sends
     * {@value #FRAMES_WAITING} more datagrams, which wait in the tap.
     */
    static void breakRxQueueWithFramesWaiting(NetFixture k, DatagramSocket socket) throws Exception {
        EmulatedNetDevice device = (EmulatedNetDevice) k.device;
        k.net.addGuestNeighbour();
        VringLayout rx = k.layout.queuePair(0).rx();
        long entries = rx.availGpa() + VirtioUapi.VRING_AVAIL_RING;
        byte[] saved = new byte[2 * rx.size()];
        k.memory.read(entries, saved, 0, saved.length);
        for (int i = 0; i < rx.size(); i++) {
            k.memory.putShort(entries + 2L * i, (short) 0xffff);
        }
        TapInNamespace.sendToGuest(socket, 7600, payload(0, 50));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!device.isBroken(0) && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertTrue(device.isBroken(0), "an available entry naming head 0xffff breaks the RX queue");
        k.memory.write(entries, saved, 0, saved.length);
        for (int i = 0; i < FRAMES_WAITING; i++) {
            TapInNamespace.sendToGuest(socket, 7601, payload(i, 50));
        }
    }

    /**
     * The open descriptors after a fixture and a namespace socket were made and closed once, so
     * what the JVM opens for good on first use (native libraries, the JDK's own sockets) is in it.
     */
    static Set<Integer> settledFds() throws Exception {
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            k.net.addGuestNeighbour();
            TapInNamespace.sendToGuest(socket, 7600, payload(0, 50));
            receiveUdpTo(k, 0, 7600);
        }
        return OpenFds.snapshot();
    }

    /** No descriptor opened since {@code before} is still open ({@link OpenFds#leakedSince} lets the JDK's own close). */
    static void assertNothingLeftOpenSince(Set<Integer> before) {
        assertEquals(
                "", OpenFds.leakedSince(before), "descriptors left open after the device, tap and memory were closed");
    }

    /** CPU time the event loop thread of {@code pair} takes over the next second, in milliseconds. */
    static long loopCpuMillisOverASecond(EmulatedNetDevice device, int pair) throws Exception {
        long thread = device.loops()
                .get(pair)
                .submit(() -> Thread.currentThread().getId())
                .get();
        java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long before = threads.getThreadCpuTime(thread);
        Thread.sleep(1000);
        return (threads.getThreadCpuTime(thread) - before) / 1_000_000;
    }
}
