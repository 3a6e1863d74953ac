package dev.vhostnet.ctl.emulated;

import com.google.common.base.Preconditions;
import com.google.common.util.concurrent.Uninterruptibles;
import io.netty.channel.IoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The Netty epoll event loops the emulated backend serves queue pairs on: a bounded set shared by
 * every device, as QEMU's iothreads and DPDK's lcores are, so the threads do not grow with the
 * devices or their pairs. Each pair goes to the loop serving the fewest pairs at the time.
 *
 * <p>{@link #shared()} is the process's set, one loop per core, made at first use and kept for the
 * life of the process (daemon threads). A VMM that owns its threads makes its own set with
 * {@link #create(int)}, passes it in {@link dev.vhostnet.ctl.NetDeviceConfig.Builder#loops}, and
 * closes it after its devices; closing a device never stops a loop.
 */
public final class EmulatedLoops implements AutoCloseable {
    private static EmulatedLoops shared;

    private final MultiThreadIoEventLoopGroup group;
    private final List<IoEventLoop> loops = new ArrayList<>();
    private final List<Thread> loopThreads = new ArrayList<>();
    private final int[] pairs;
    private final boolean processWide;
    private boolean closed;

    private EmulatedLoops(int threads, String name, boolean processWide) {
        Preconditions.checkArgument(threads >= 1, "at least one event loop, not %s", threads);
        ThreadFactory daemons = new DefaultThreadFactory(name, true);
        this.group = new MultiThreadIoEventLoopGroup(
                threads,
                task -> {
                    Thread t = daemons.newThread(task);
                    synchronized (loopThreads) {
                        loopThreads.add(t);
                    }
                    return t;
                },
                EpollIoHandler.newFactory());
        for (EventExecutor e : group) {
            loops.add((IoEventLoop) e);
        }
        this.pairs = new int[loops.size()];
        this.processWide = processWide;
    }

    /** The process's set: {@code Runtime.availableProcessors()} loops, made at the first call. */
    public static synchronized EmulatedLoops shared() {
        if (shared == null) {
            shared = new EmulatedLoops(Runtime.getRuntime().availableProcessors(), "vhostnet-emulated", true);
        }
        return shared;
    }

    /** A set of {@code threads} loops owned by the caller, who closes it after the devices on it. */
    public static EmulatedLoops create(int threads) {
        return new EmulatedLoops(threads, "vhostnet-emulated-own", false);
    }

    /** The loop serving the fewest pairs, now serving one more. */
    synchronized IoEventLoop acquire() {
        Preconditions.checkState(!closed, "these event loops are closed");
        int least = 0;
        for (int i = 1; i < pairs.length; i++) {
            if (pairs[i] < pairs[least]) {
                least = i;
            }
        }
        pairs[least]++;
        return loops.get(least);
    }

    /** {@code loop} serves one pair less. */
    synchronized void release(IoEventLoop loop) {
        int i = loops.indexOf(loop);
        Preconditions.checkArgument(i >= 0 && pairs[i] > 0, "%s serves no pair of this set", loop);
        pairs[i]--;
    }

    /** How many loops (threads, once started) this set has. */
    public int threads() {
        return loops.size();
    }

    /** How many queue pairs its loops serve now. */
    public synchronized int pairs() {
        int n = 0;
        for (int p : pairs) {
            n += p;
        }
        return n;
    }

    /**
     * Stops the loops and waits for their threads to end.
     *
     * @throws IllegalStateException on the {@link #shared()} set, or while a device still has a pair on a loop
     */
    @Override
    public void close() {
        synchronized (this) {
            Preconditions.checkState(!processWide, "the shared event loops live as long as the process");
            if (closed) {
                return;
            }
            Preconditions.checkState(
                    pairs() == 0, "%s queue pairs are still on these loops: close their devices first", pairs());
            closed = true;
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        // The group's termination future completes inside each loop's last task, a moment before
        // its thread ends; a caller counting threads after close() must not see them.
        List<Thread> started;
        synchronized (loopThreads) {
            started = List.copyOf(loopThreads);
        }
        for (Thread t : started) {
            Uninterruptibles.joinUninterruptibly(t);
        }
    }
}
