package dev.vhostnet.virtio;

import java.util.concurrent.atomic.LongAdder;

/**
 * What a transport refused or could not do, one counter per rule (as Firecracker's device metrics):
 * a hostile or buggy driver shows here, never as an exception in the VMM's exit loop.
 */
public final class TransportCounters {
    private final LongAdder badAccesses = new LongAdder();
    private final LongAdder refusedWrites = new LongAdder();
    private final LongAdder refusedFeatures = new LongAdder();
    private final LongAdder refusedQueues = new LongAdder();
    private final LongAdder activationFailures = new LongAdder();
    private final LongAdder wiringFailures = new LongAdder();
    private final LongAdder maskedInterrupts = new LongAdder();
    private final LongAdder internalErrors = new LongAdder();
    private volatile String lastRefusal = "";

    /** Reads or writes at an offset no register has, or with a size or alignment the register does not take. */
    public long badAccesses() {
        return badAccesses.sum();
    }

    /** Writes a register takes but not in the current state (a status bit cleared, queue setup after {@code DRIVER_OK}…). */
    public long refusedWrites() {
        return refusedWrites.sum();
    }

    /** {@code FEATURES_OK} refused: features not offered, no {@code VERSION_1}, or a subset the device cannot serve. */
    public long refusedFeatures() {
        return refusedFeatures.sum();
    }

    /** Queue enables refused by {@link QueueConfig}'s checks. */
    public long refusedQueues() {
        return refusedQueues.sum();
    }

    /** {@link VirtioDevice#activate} failures (the device was marked {@code DEVICE_NEEDS_RESET}). */
    public long activationFailures() {
        return activationFailures.sum();
    }

    /** KVM calls (ioeventfd, irqfd, MSI route) that failed. */
    public long wiringFailures() {
        return wiringFailures.sum();
    }

    /** Call-fd signals taken by this process while their MSI-X vector was masked (each sets the pending bit). */
    public long maskedInterrupts() {
        return maskedInterrupts.sum();
    }

    /** Runtime exceptions caught at the exit-loop boundary: a transport bug, never a guest's doing. */
    public long internalErrors() {
        return internalErrors.sum();
    }

    /** Everything refused from the guest. */
    public long refusals() {
        return badAccesses() + refusedWrites() + refusedFeatures() + refusedQueues();
    }

    /** The most recent refusal or failure, for a log line. */
    public String lastRefusal() {
        return lastRefusal;
    }

    void badAccess(String what) {
        badAccesses.increment();
        lastRefusal = what;
    }

    void refusedWrite(String what) {
        refusedWrites.increment();
        lastRefusal = what;
    }

    void refusedFeatures(String what) {
        refusedFeatures.increment();
        lastRefusal = what;
    }

    void refusedQueue(String what) {
        refusedQueues.increment();
        lastRefusal = what;
    }

    void activationFailure(String what) {
        activationFailures.increment();
        lastRefusal = what;
    }

    void wiringFailure(String what) {
        wiringFailures.increment();
        lastRefusal = what;
    }

    void maskedInterrupt() {
        maskedInterrupts.increment();
    }

    void internalError(String what) {
        internalErrors.increment();
        lastRefusal = what;
    }

    @Override
    public String toString() {
        return String.format(
                "bad accesses %d, refused writes %d, features %d, queues %d, activation failures %d, "
                        + "wiring failures %d, masked interrupts %d, internal errors %d",
                badAccesses(),
                refusedWrites(),
                refusedFeatures(),
                refusedQueues(),
                activationFailures(),
                wiringFailures(),
                maskedInterrupts(),
                internalErrors());
    }
}
