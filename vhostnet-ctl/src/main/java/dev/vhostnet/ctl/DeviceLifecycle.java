package dev.vhostnet.ctl;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.vhost.VhostStepException;
import dev.vhostnet.ctl.vhost.VringSetup;
import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state machine every {@link NetDevice} shares, whatever moves its packets: running, stopped with
 * each vring's base saved, disconnected (a vhost-user back-end gone), closed. One lock guards a
 * device's transitions and what they touch; waiters are told of each change. The backend supplies
 * only its steps: how to stop its rings, how to start them from bases, what to release.
 */
public final class DeviceLifecycle {
    private static final Logger log = LoggerFactory.getLogger(DeviceLifecycle.class);

    /** Stops the rings: every vring's base, and the step that failed if one did. */
    @FunctionalInterface
    public interface Stopper {
        VringSetup.Detached stop(VringBases current);
    }

    /** Starts the rings from {@code bases}. */
    @FunctionalInterface
    public interface Starter<E extends Exception> {
        void start(VringBases bases) throws E;
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final String device;
    private NetDevice.State state;
    private VringBases bases;

    /** A lifecycle for {@code device} (its name in errors), in {@code initial} state with {@code bases}. */
    public DeviceLifecycle(String device, NetDevice.State initial, VringBases bases) {
        this.device = Preconditions.checkNotNull(device, "device");
        this.state = Preconditions.checkNotNull(initial, "initial");
        this.bases = Preconditions.checkNotNull(bases, "bases");
    }

    /** Takes the device's lock (reentrant), for a device's own steps beside the transitions. */
    public void lock() {
        lock.lock();
    }

    /** Releases what {@link #lock()} took. */
    public void unlock() {
        lock.unlock();
    }

    /** {@code field} read under the device's lock: for a device's own state beside the transitions. */
    public <T> T read(Supplier<T> field) {
        lock.lock();
        try {
            return field.get();
        } finally {
            lock.unlock();
        }
    }

    public NetDevice.State state() {
        lock.lock();
        try {
            return state;
        } finally {
            lock.unlock();
        }
    }

    /** The bases saved at the last stop, or given at start. */
    public VringBases bases() {
        lock.lock();
        try {
            return bases;
        } finally {
            lock.unlock();
        }
    }

    /** Throws unless the device is {@code expected}, naming the device and what it is. */
    public void check(NetDevice.State expected) {
        lock.lock();
        try {
            Preconditions.checkState(state == expected, "%s is %s, not %s", device, state, expected);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Running → stopped: {@code stopper} stops the rings; their bases are saved and the device is
     * stopped even when a step failed (the caller throws it: {@link VringSetup.Detached#throwIfFailed}).
     */
    public VringSetup.Detached stop(Stopper stopper) {
        lock.lock();
        try {
            check(NetDevice.State.RUNNING);
            VringSetup.Detached detached = stopper.stop(bases);
            bases = detached.bases();
            moveTo(NetDevice.State.STOPPED);
            return detached;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stopped (or, for a device that sets itself up again, {@code also}) → running: {@code starter}
     * starts the rings from the saved bases.
     */
    public <E extends Exception> void start(Starter<E> starter, NetDevice.State also) throws E {
        lock.lock();
        try {
            Preconditions.checkState(
                    state == NetDevice.State.STOPPED || state == also,
                    "%s is %s, not %s",
                    device,
                    state,
                    NetDevice.State.STOPPED);
            starter.start(bases);
            moveTo(NetDevice.State.RUNNING);
        } finally {
            lock.unlock();
        }
    }

    /** Stopped → running, as {@link #start(Starter, NetDevice.State)} from a stopped device only. */
    public <E extends Exception> void start(Starter<E> starter) throws E {
        start(starter, NetDevice.State.STOPPED);
    }

    /** Sets the state and tells the waiters. */
    public void moveTo(NetDevice.State next) {
        lock.lock();
        try {
            state = next;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Tells the waiters something they wait for may have changed. */
    public void signal() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops the device if it runs (a failure is logged: the device is going anyway), then runs
     * {@code release} once. A closed device stays closed; a second close does nothing.
     */
    public void close(Stopper stopper, Runnable release) {
        lock.lock();
        try {
            if (state == NetDevice.State.CLOSED) {
                return;
            }
            if (state == NetDevice.State.RUNNING) {
                try {
                    VhostStepException failure = stop(stopper).failure();
                    if (failure != null) {
                        log.warn("{}: stopping before close: {}", device, failure.getMessage());
                    }
                } catch (RuntimeException e) {
                    log.warn("{}: stopping before close: {}", device, e.getMessage());
                }
            }
            try {
                release.run();
            } finally {
                moveTo(NetDevice.State.CLOSED);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code timeout} until {@code done} holds (checked under the lock at each change). */
    public boolean await(BooleanSupplier done, Duration timeout) throws InterruptedException {
        long left = timeout.toNanos();
        lock.lock();
        try {
            while (!done.getAsBoolean()) {
                if (left <= 0) {
                    return false;
                }
                left = changed.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }
}
