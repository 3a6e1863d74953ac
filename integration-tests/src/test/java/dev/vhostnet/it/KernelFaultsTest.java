package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.frameTo;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.transmit;
import static dev.vhostnet.it.EmulatedFaultsTest.IDLE_CPU_MILLIS;
import static dev.vhostnet.it.EmulatedFaultsTest.assertNothingLeftOpenSince;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.bench.ThreadCpu;
import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.vhost.VhostStepException;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Faults under a running vhost-net device (issue 17's fault injection, the kernel side of
 * {@link EmulatedFaultsTest}): the kernel's vhost workers stay idle (their CPU over a second is
 * bounded, not a speed), the failure is named where the device can see it, and closing leaves no
 * descriptor and no interface behind.
 */
@Tag("vhost-net")
@Tag("faults")
class KernelFaultsTest {
    @Test
    void aTapDeletedUnderTrafficLeavesTheVhostWorkerIdleAndARestartNamesIt() throws Exception {
        NetFixture.assumeVhostNet();
        Set<Integer> before = EmulatedFaultsTest.settledFds();
        String tap;
        try (NetFixture k = NetFixture.start(Kind.KERNEL, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            tap = k.net.tap.name();
            transmit(k.driver(0), frameTo(k, socket.getLocalPort(), 40000, payload(1, 64)));
            assertArrayEquals(payload(1, 64), TapInNamespace.receive(socket));

            k.net.ns.ip("link", "delete", tap);
            long cpu = vhostWorkersCpuMillisOverASecondWhile(() -> {
                for (int i = 0; i < 200; i++) {
                    transmit(k.driver(0), frameTo(k, socket.getLocalPort(), 40000, payload(i, 64)));
                    k.driver(0).reclaimTx();
                }
            });
            assertTrue(
                    cpu < IDLE_CPU_MILLIS, "the vhost worker took " + cpu + " ms of CPU in a second with its tap gone");

            k.device.stop();
            VhostStepException gone = assertThrows(VhostStepException.class, k.device::restart);
            assertEquals(Errno.EBADFD.number(), gone.sysException().errno(), gone.getMessage());
            assertTrue(
                    gone.getMessage().contains("TUNGETIFF") && gone.getMessage().contains("the tap was deleted"),
                    gone.getMessage());
            assertEquals(NetDevice.State.STOPPED, k.device.state());
        }
        assertNothingLeftOpenSince(before);
        assertFalse(Files.exists(Path.of("/sys/class/net", tap)), "no interface " + tap + " left behind");
    }

    @Test
    void aKickClosedUnderARunningDeviceLeavesTheKernelItsOwnReference() throws Exception {
        NetFixture.assumeVhostNet();
        Set<Integer> before = EmulatedFaultsTest.settledFds();
        try (NetFixture k = NetFixture.start(Kind.KERNEL, 1, FEATURES);
                DatagramSocket socket = k.net.socket();
                EventFd doorbell = EventFd.adopt(k.queues.get(1).kick().fd().dup())) {
            k.queues.get(1).kick().close(); // doorbell: the reference a KVM ioeventfd keeps
            byte[] frame = frameTo(k, socket.getLocalPort(), 40000, payload(7, 80));
            assertTrue(k.driver(0).enqueue(dev.vhostnet.driver.VirtioNetHeader.NONE, frame, 0, frame.length));
            IllegalStateException closed = assertThrows(IllegalStateException.class, k.driver(0)::flush);
            assertTrue(closed.getMessage().endsWith("is closed"), closed.getMessage());
            doorbell.signal();
            assertArrayEquals(
                    payload(7, 80),
                    TapInNamespace.receive(socket),
                    "vhost-net holds its own reference to the kick: a signal through another is served");
            long cpu = vhostWorkersCpuMillisOverASecondWhile(() -> {});
            assertTrue(cpu < IDLE_CPU_MILLIS, "the vhost worker took " + cpu + " ms of CPU in a second");
        }
        assertNothingLeftOpenSince(before);
    }

    /** Something to do while the vhost workers' CPU is measured. */
    @FunctionalInterface
    interface Load {
        void run() throws Exception;
    }

    /**
     * CPU time, in milliseconds, the vhost workers of this process ({@code vhost-<tid>}: kernel
     * threads of their own on Linux 6.1, threads of this process from 6.4: {@link ThreadCpu}) take
     * over one second from the start of {@code load}.
     */
    static long vhostWorkersCpuMillisOverASecondWhile(Load load) throws Exception {
        List<Path> workers =
                ThreadCpu.vhostWorkers().stream().flatMap(List::stream).toList();
        assertFalse(workers.isEmpty(), "a running vhost-net device has a vhost worker");
        long before = ThreadCpu.nanos(workers);
        long start = System.nanoTime();
        load.run();
        Thread.sleep(Math.max(0, 1000 - (System.nanoTime() - start) / 1_000_000));
        return (ThreadCpu.nanos(workers) - before) / 1_000_000;
    }
}
