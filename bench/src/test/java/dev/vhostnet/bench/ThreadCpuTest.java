package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ThreadCpuTest {
    @Test
    void findsThisProcessesThreadsByNameAndCountsTheirCpu() throws Exception {
        CountDownLatch spun = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread t = new Thread(
                () -> {
                    // 100 ms of this thread's CPU, however long a loaded machine takes to give it
                    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
                    long end = cpu.getCurrentThreadCpuTime() + 100_000_000L;
                    while (cpu.getCurrentThreadCpuTime() < end) {
                        Thread.onSpinWait();
                    }
                    spun.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                },
                "vhost-user-cpu-test-thread");
        t.start();
        try {
            assertTrue(spun.await(10, TimeUnit.SECONDS));
            List<Path> named = ThreadCpu.ownThreadsNamed("vhost-user-cpu-");
            assertEquals(1, named.size(), "comm holds 15 characters of the name: " + named);
            long nanos = ThreadCpu.nanos(named);
            assertTrue(nanos >= 90_000_000L && nanos < 10_000_000_000L, nanos + " ns for 100 ms of CPU spun");
        } finally {
            release.countDown();
            t.join();
        }
    }

    @Test
    void listsAnotherProcessesThreadsAndNoneOnceItIsGone() throws Exception {
        Process sleep = new ProcessBuilder("sleep", "30").start();
        try {
            List<Path> threads = ThreadCpu.threadsOf(sleep.pid());
            assertEquals(
                    List.of(Path.of("/proc", Long.toString(sleep.pid()), "task", Long.toString(sleep.pid()))), threads);
            assertTrue(ThreadCpu.nanos(threads) >= 0);
        } finally {
            sleep.destroyForcibly();
            sleep.waitFor();
        }
        assertEquals(List.of(), ThreadCpu.threadsOf(sleep.pid()));
    }
}
