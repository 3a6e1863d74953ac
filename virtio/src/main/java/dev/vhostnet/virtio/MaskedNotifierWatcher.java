package dev.vhostnet.virtio;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.PollUapi;
import dev.vhostnet.sys.SysException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The thread that reads call eventfds while they are not irqfds — QEMU's masked-notifier path
 * ({@code virtio_pci_vector_mask}: the guest notifier goes to a userspace handler that sets the
 * MSI-X pending bit). It polls the watched fds and a wake-up fd; a readable watched fd is read
 * (which resets it) and handed to the handler under the transport's lock, so a vector's
 * mask/unmask and a signal are never interleaved. Level-triggered poll, every readable fd read: no
 * spinning.
 */
final class MaskedNotifierWatcher implements AutoCloseable {
    /** Called under the lock with the counter read from a watched notifier. */
    interface Handler {
        void signalled(EventFd notifier, long count);
    }

    private final Object lock;
    private final Handler handler;
    private final TransportCounters counters;
    private final EventFd wake;
    private final Set<EventFd> watched = new LinkedHashSet<>();
    private final Thread thread;
    private volatile boolean closed;

    MaskedNotifierWatcher(Object lock, Handler handler, TransportCounters counters, String name) throws SysException {
        this.lock = lock;
        this.handler = handler;
        this.counters = counters;
        this.wake = EventFd.create();
        this.thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Starts watching {@code notifier}. Takes the lock itself (the watched set is only touched under
     * it, the thread included), so a caller that does not hold it yet — a constructor — is safe.
     */
    void watch(EventFd notifier) {
        synchronized (lock) {
            if (watched.add(notifier)) {
                wakeUp();
            }
        }
    }

    /** Stops watching {@code notifier}. Afterwards the thread does not read it. */
    void unwatch(EventFd notifier) {
        synchronized (lock) {
            if (watched.remove(notifier)) {
                wakeUp();
            }
        }
    }

    boolean isWatched(EventFd notifier) {
        synchronized (lock) {
            return watched.contains(notifier);
        }
    }

    private void wakeUp() {
        try {
            wake.signal();
        } catch (SysException e) {
            counters.wiringFailure("wake the masked-notifier watcher: " + e.getMessage());
        }
    }

    private void run() {
        try {
            while (!closed) {
                List<EventFd> set;
                synchronized (lock) {
                    set = new ArrayList<>(watched);
                }
                List<Fd> fds = new ArrayList<>(set.size() + 1);
                fds.add(wake.fd());
                set.forEach(e -> fds.add(e.fd()));
                int[] ready = Fd.pollAll(fds, PollUapi.POLLIN, -1);
                wake.read();
                synchronized (lock) {
                    for (int i = 0; i < set.size(); i++) {
                        EventFd notifier = set.get(i);
                        if (ready[i + 1] != 0 && !closed && watched.contains(notifier)) {
                            long count = notifier.read();
                            if (count > 0) {
                                handler.signalled(notifier, count);
                            }
                        }
                    }
                }
            }
        } catch (SysException | RuntimeException e) {
            if (!closed) {
                counters.internalError("masked-notifier watcher stopped: " + e + where(e));
            }
        }
    }

    /** Where {@code e} was thrown: its first three frames, so a counted internal error can be traced. */
    private static String where(Throwable e) {
        StringBuilder s = new StringBuilder();
        StackTraceElement[] frames = e.getStackTrace();
        for (int i = 0; i < Math.min(3, frames.length); i++) {
            s.append(" at ").append(frames[i]);
        }
        return s.toString();
    }

    /** Stops the thread and waits for it; the watched fds stay open (they are the transport's). */
    @Override
    public void close() {
        closed = true;
        wakeUp();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        wake.close();
    }
}
