package dev.vhostnet.virtio;

import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_ACKNOWLEDGE;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_DRIVER;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_DRIVER_OK;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_FAILED;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_FEATURES_OK;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_NEEDS_RESET;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VirtioConfigUapi;
import java.util.ArrayList;
import java.util.List;

/**
 * The transport-independent half of a virtio transport (what QEMU keeps in {@code VirtIODevice}):
 * the device status machine of virtio 1.x §2.1/§3.1, the feature pages, the queue registers, the
 * interrupt status (virtio-mmio's InterruptStatus, virtio-pci's ISR), the config generation, and the
 * kick/call/config eventfds. Both transports map their registers onto it, so the lifecycle is
 * written once. Every method runs under this object's monitor; the transports take it around a
 * register access, and the {@link Notifiers} it gives the device take it too.
 */
final class DeviceState implements Notifiers, AutoCloseable {
    static final long VERSION_1 = 1L << VirtioConfigUapi.VIRTIO_F_VERSION_1;
    static final int INT_QUEUE = 1;
    static final int INT_CONFIG = 2;
    private static final int DRIVER_BITS = VIRTIO_CONFIG_S_ACKNOWLEDGE
            | VIRTIO_CONFIG_S_DRIVER
            | VIRTIO_CONFIG_S_FEATURES_OK
            | VIRTIO_CONFIG_S_DRIVER_OK
            | VIRTIO_CONFIG_S_FAILED;

    final VirtioDevice device;
    final TransportCounters counters;
    private final MemoryTable memory;
    private final QueueRegisters[] queues;
    private final EventFd[] kicks;
    private final EventFd[] calls;
    private final EventFd config;
    private int status;
    private int deviceFeaturesSelect;
    private int driverFeaturesSelect;
    private long driverFeatures;
    private int queueSelect;
    private int configGeneration;
    private int interruptStatus;
    private boolean active;

    DeviceState(VirtioDevice device, MemoryTable memory, TransportCounters counters) throws SysException {
        this.device = device;
        this.memory = memory;
        this.counters = counters;
        int n = device.queueCount();
        queues = new QueueRegisters[n];
        kicks = new EventFd[n];
        calls = new EventFd[n];
        for (int i = 0; i < n; i++) {
            int max = device.queueMaxSize(i);
            if (max <= 0 || max > QueueConfig.MAX_SIZE || Integer.bitCount(max) != 1) {
                throw new IllegalArgumentException(
                        "queue " + i + ": maximum size " + max + " is not a power of two in 1..32768");
            }
            queues[i] = new QueueRegisters(i, max);
        }
        EventFd configFd = null;
        try {
            for (int i = 0; i < n; i++) {
                kicks[i] = EventFd.create();
                calls[i] = EventFd.create();
            }
            configFd = EventFd.create();
        } catch (SysException | RuntimeException e) {
            closeAll();
            throw e;
        }
        this.config = configFd;
    }

    // ---- status ----

    synchronized int status() {
        return status;
    }

    synchronized boolean isActive() {
        return active;
    }

    private boolean has(int bit) {
        return (status & bit) != 0;
    }

    /**
     * A driver write of the status register. 0 resets. Otherwise the driver may only add bits, in
     * the order ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK (FAILED at any time); FEATURES_OK stays
     * set only if the features are accepted; DRIVER_OK activates the device. {@code NEEDS_RESET} is
     * the device's: the driver can neither set nor clear it.
     */
    synchronized void writeStatus(int value) {
        value &= 0xff;
        if (value == 0) {
            reset();
            return;
        }
        int next = (value & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (status & VIRTIO_CONFIG_S_NEEDS_RESET);
        int added = next & ~status;
        String problem = null;
        if ((status & ~VIRTIO_CONFIG_S_NEEDS_RESET & ~next) != 0) {
            problem = "clears bits of 0x" + Integer.toHexString(status);
        } else if ((added & ~DRIVER_BITS) != 0) {
            problem = "sets undefined bits";
        } else if ((added & VIRTIO_CONFIG_S_DRIVER) != 0 && (next & VIRTIO_CONFIG_S_ACKNOWLEDGE) == 0) {
            problem = "sets DRIVER before ACKNOWLEDGE";
        } else if ((added & VIRTIO_CONFIG_S_FEATURES_OK) != 0 && (next & VIRTIO_CONFIG_S_DRIVER) == 0) {
            problem = "sets FEATURES_OK before DRIVER";
        } else if ((added & VIRTIO_CONFIG_S_DRIVER_OK) != 0 && (next & VIRTIO_CONFIG_S_FEATURES_OK) == 0) {
            problem = "sets DRIVER_OK before FEATURES_OK";
        }
        if (problem != null) {
            counters.refusedWrite("status 0x" + Integer.toHexString(value) + " " + problem);
            return;
        }
        if ((added & VIRTIO_CONFIG_S_FEATURES_OK) != 0 && !acceptFeatures()) {
            next &= ~(VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
        }
        status = next;
        if ((added & status & VIRTIO_CONFIG_S_DRIVER_OK) != 0
                && !has(VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
            activate();
        }
    }

    private boolean acceptFeatures() {
        long offered = offeredFeatures();
        String problem = null;
        if ((driverFeatures & ~offered) != 0) {
            problem = "driver features 0x" + Long.toHexString(driverFeatures) + " include 0x"
                    + Long.toHexString(driverFeatures & ~offered) + " the device did not offer";
        } else if ((driverFeatures & VERSION_1) == 0) {
            problem = "driver features 0x" + Long.toHexString(driverFeatures) + " lack VERSION_1 (no legacy interface)";
        } else if (!device.featuresOk(driverFeatures)) {
            problem = "the device cannot serve features 0x" + Long.toHexString(driverFeatures);
        }
        if (problem != null) {
            counters.refusedFeatures(problem);
            return false;
        }
        device.ackFeatures(driverFeatures);
        return true;
    }

    private void activate() {
        List<QueueConfig> enabled = new ArrayList<>();
        for (QueueRegisters q : queues) {
            if (q.enabled != null) {
                enabled.add(new QueueConfig(
                        q.index,
                        q.enabled.size(),
                        q.enabled.descTable(),
                        q.enabled.availRing(),
                        q.enabled.usedRing(),
                        q.vector));
            }
        }
        try {
            device.activate(List.copyOf(enabled), this);
            active = true;
        } catch (Exception e) {
            counters.activationFailure("activate: " + e);
            requestReset();
        }
    }

    /** Device reset (a status write of 0): the device stops, the registers return to their reset values. */
    private void reset() {
        if (active) {
            active = false;
            device.reset();
        }
        status = 0;
        deviceFeaturesSelect = 0;
        driverFeaturesSelect = 0;
        driverFeatures = 0;
        queueSelect = 0;
        interruptStatus = 0;
        for (QueueRegisters q : queues) {
            q.reset();
        }
    }

    // ---- features ----

    /** What the device offers, with the transport's {@code VERSION_1}. */
    long offeredFeatures() {
        return device.deviceFeatures() | VERSION_1;
    }

    synchronized void selectDeviceFeatures(int select) {
        deviceFeaturesSelect = select;
    }

    synchronized int deviceFeaturesSelect() {
        return deviceFeaturesSelect;
    }

    /** The selected 32 bits of the offered features; 0 past the second page. */
    synchronized int deviceFeaturesWord() {
        return deviceFeaturesSelect >= 0 && deviceFeaturesSelect < 2
                ? (int) (offeredFeatures() >>> (32 * deviceFeaturesSelect))
                : 0;
    }

    synchronized void selectDriverFeatures(int select) {
        driverFeaturesSelect = select;
    }

    synchronized int driverFeaturesSelect() {
        return driverFeaturesSelect;
    }

    synchronized int driverFeaturesWord() {
        return driverFeaturesSelect >= 0 && driverFeaturesSelect < 2
                ? (int) (driverFeatures >>> (32 * driverFeaturesSelect))
                : 0;
    }

    /** Driver features, page by page: only between DRIVER and FEATURES_OK, only pages 0 and 1. */
    synchronized void writeDriverFeaturesWord(int word) {
        if (!has(VIRTIO_CONFIG_S_DRIVER) || has(VIRTIO_CONFIG_S_FEATURES_OK)) {
            counters.refusedWrite(
                    "driver features outside DRIVER..FEATURES_OK (status 0x" + Integer.toHexString(status) + ")");
        } else if (driverFeaturesSelect < 0 || driverFeaturesSelect >= 2) {
            counters.refusedWrite("driver features page " + driverFeaturesSelect + " does not exist");
        } else {
            int shift = 32 * driverFeaturesSelect;
            driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | ((word & 0xffff_ffffL) << shift);
        }
    }

    // ---- queues ----

    int queueCount() {
        return queues.length;
    }

    QueueRegisters queue(int index) {
        return queues[index];
    }

    synchronized void selectQueue(int select) {
        queueSelect = select;
    }

    synchronized int queueSelect() {
        return queueSelect;
    }

    /** The selected queue's registers, or {@code null} when the selector names no queue. */
    synchronized QueueRegisters selectedQueue() {
        return queueSelect >= 0 && queueSelect < queues.length ? queues[queueSelect] : null;
    }

    /**
     * The selected queue, if its setup registers may be written now: after FEATURES_OK, before
     * DRIVER_OK, while it is not enabled. Otherwise the write is counted and {@code null} returned.
     */
    synchronized QueueRegisters writableQueue(String register) {
        QueueRegisters q = selectedQueue();
        if (q == null) {
            counters.refusedWrite(register + ": queue " + queueSelect + " does not exist");
        } else if (!has(VIRTIO_CONFIG_S_FEATURES_OK) || has(VIRTIO_CONFIG_S_DRIVER_OK)) {
            counters.refusedWrite(register + " of queue " + q.index + " outside FEATURES_OK..DRIVER_OK (status 0x"
                    + Integer.toHexString(status) + ")");
            return null;
        } else if (q.enabled != null) {
            counters.refusedWrite(register + " of queue " + q.index + " while it is enabled");
            return null;
        }
        return q;
    }

    /** The driver enables the selected queue: its registers must pass {@link QueueConfig}'s checks. */
    synchronized void enableSelectedQueue() {
        QueueRegisters q = writableQueue("queue enable");
        if (q == null) {
            return;
        }
        try {
            q.enabled = QueueConfig.validated(
                    q.index, q.size, q.maxSize, q.descTable, q.availRing, q.usedRing, q.vector, memory);
        } catch (IllegalArgumentException e) {
            counters.refusedQueue(e.getMessage());
        }
    }

    // ---- configuration space and interrupts ----

    synchronized int configGeneration() {
        return configGeneration;
    }

    /** Reads device configuration, or counts the access and returns zeros if it is not inside the space. */
    synchronized void readConfig(long offset, byte[] data) {
        if (configAccessOk(offset, data.length, "read")) {
            device.readConfig((int) offset, data);
        } else {
            Le.fill(data, 0);
        }
    }

    synchronized void writeConfig(long offset, byte[] data) {
        if (configAccessOk(offset, data.length, "write")) {
            device.writeConfig((int) offset, data.clone());
        }
    }

    private boolean configAccessOk(long offset, int length, String what) {
        if (!Le.isAccessSize(length) || offset < 0 || offset + length > device.configSize()) {
            counters.badAccess("config " + what + " of " + length + " bytes at 0x" + Long.toHexString(offset)
                    + " outside the " + device.configSize() + "-byte space");
            return false;
        }
        return true;
    }

    synchronized int interruptStatus() {
        return interruptStatus;
    }

    synchronized void raiseInterruptStatus(int bits) {
        interruptStatus |= bits;
    }

    /** Clears {@code bits} and returns what was set before (the ISR's read-to-clear, InterruptACK). */
    synchronized int clearInterruptStatus(int bits) {
        int was = interruptStatus;
        interruptStatus &= ~bits;
        return was;
    }

    // ---- notifiers ----

    @Override
    public EventFd kick(int queue) {
        return kicks[queue];
    }

    @Override
    public EventFd call(int queue) {
        return calls[queue];
    }

    /** The configuration interrupt's eventfd (routed like a queue's call fd). */
    EventFd configNotifier() {
        return config;
    }

    /** A driver notification that came as an exit instead of through the ioeventfd. */
    synchronized void notifyQueue(int queue, String how) {
        if (queue < 0 || queue >= queues.length) {
            counters.badAccess(how + " names queue " + queue + " of " + queues.length);
            return;
        }
        signal(kicks[queue], "kick queue " + queue);
    }

    @Override
    public synchronized void signalConfigChange() {
        configGeneration++;
        interruptStatus |= INT_CONFIG;
        signal(config, "config interrupt");
    }

    @Override
    public synchronized void requestReset() {
        status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        signalConfigChange();
    }

    private void signal(EventFd fd, String what) {
        try {
            fd.signal();
        } catch (SysException | RuntimeException e) {
            counters.wiringFailure(what + ": " + e.getMessage());
        }
    }

    /** Stops an active device and closes the eventfds. */
    @Override
    public synchronized void close() {
        if (active) {
            active = false;
            device.reset();
        }
        closeAll();
    }

    private void closeAll() {
        for (EventFd fd : kicks) {
            if (fd != null) {
                fd.close();
            }
        }
        for (EventFd fd : calls) {
            if (fd != null) {
                fd.close();
            }
        }
        if (config != null) {
            config.close();
        }
    }
}
